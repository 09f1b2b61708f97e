"""A comparable picture of an organization's whole catalog, without database ids."""

from __future__ import annotations

from catalog.models import Asset, Job, Run, RunAsset, SchemaVersion, Workload, WorkloadAsset


def snapshot(org) -> dict:
    def akey(a):
        return (a.namespace, a.name)

    return {
        "workloads": {
            w.external_id: (w.kind, w.name, w.status, w.owner_email, w.derived, w.cloud.name,
                            w.project.name if w.project else None, w.created_at, w.updated_at, w.attrs, w.stamps)
            for w in Workload.objects.in_org(org).select_related("cloud", "project")
        },
        "jobs": {(j.namespace, j.name): (j.job_type, j.integration, j.created_at, j.updated_at, j.attrs, j.stamps)
                 for j in Job.objects.in_org(org)},
        "runs": {
            str(r.run_id): ((r.job.namespace, r.job.name), r.workload.external_id, r.state, r.started_at, r.ended_at,
                            r.parent_run_id, r.error_message, r.created_at, r.updated_at, r.attrs, r.stamps)
            for r in Run.objects.in_org(org).select_related("job", "workload")
        },
        "assets": {
            akey(a): (a.kind, a.dataset_type, a.uri, a.created_by, a.cloud_id, a.project_id, a.created_at,
                      a.updated_at, a.attrs, a.stamps)
            for a in Asset.objects.in_org(org)
        },
        "schemas": {(akey(s.asset), s.fields_hash, s.first_seen_at)
                    for s in SchemaVersion.objects.filter(asset__org=org).select_related("asset")},
        "run_edges": {(str(e.run.run_id), akey(e.asset), e.direction, e.first_seen_at, e.last_seen_at)
                      for e in RunAsset.objects.in_org(org).select_related("run", "asset")},
        "workload_edges": {(e.workload.external_id, akey(e.asset), e.direction, e.first_seen_at, e.last_seen_at)
                           for e in WorkloadAsset.objects.in_org(org).select_related("workload", "asset")},
    }
