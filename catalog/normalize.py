"""Normalize OpenLineage events into the catalog, a batch at a time.

The ingest pipeline calls `apply_events` inside a transaction with events that passed the
contract (ingest.contract). Every table is written through `_upsert`: create missing rows with one
INSERT ... ON CONFLICT DO NOTHING, lock all touched rows in key order (so concurrent workers
cannot deadlock), merge the batch's stamped contributions (catalog.merge), and write the changed
rows back with one bulk UPDATE. Merging is order-independent and idempotent, so events may
arrive late, twice, or in any order.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Max, Min

from catalog import naming
from catalog.bulk import update_rows
from catalog.merge import merge_into, stamp_for
from catalog.models import (
    TERMINAL_STATES,
    Asset,
    AssetKind,
    Job,
    Run,
    RunAsset,
    SchemaVersion,
    Workload,
    WorkloadAsset,
)
from clouds.models import Cloud, Project
from ingest.contract import parse_time
from orgs.models import Organization

# Facets whose values may hold credentials; environmentVariables values under secret-looking
# names are never stored.
_SECRET_MARKERS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH", "PRIVATE", "SESSION")

# How sure an event is of its run's workload: a workload facet beats a parent chain beats the
# run's own job. The best-informed event decides, whatever order they arrive in.
_RANK_FACET, _RANK_PARENT, _RANK_SELF = "3", "2", "1"


@dataclass
class EventInput:
    """One valid event, as the pipeline hands it over."""

    event: dict
    cloud: Cloud
    content_hash: str


@dataclass
class _Contrib:
    """Stamped contributions to one row, collected from the whole batch."""

    items: list[tuple[str, dict[str, Any], frozenset[str]]] = field(default_factory=list)
    seed: dict[str, Any] = field(default_factory=dict)  # values needed to create the row

    def add(self, stamp: str, updates: dict[str, Any], first_wins: frozenset[str] = frozenset()) -> None:
        self.items.append((stamp, updates, first_wins))


_TIMES = frozenset({"first_event_at"})
# Asset facets that record what was observed (latest wins) rather than what the producer declared.
_OBSERVED_FACETS = ("facet:schema",)


def _time_updates(event_time: datetime) -> dict[str, Any]:
    iso = event_time.isoformat()
    return {"first_event_at": iso, "last_event_at": iso}


def _str(value: Any, limit: int = 255) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _safe_env(facet: dict) -> dict:
    """environmentVariables with the values of secret-looking names dropped."""
    out = []
    for item in facet.get("environmentVariables") or []:
        if not isinstance(item, dict):
            continue
        name = _str(item.get("name"), 256)
        if any(marker in name.upper() for marker in _SECRET_MARKERS):
            out.append({"name": name, "value": "[redacted]"})
        else:
            out.append({"name": name, "value": item.get("value")})
    return {**facet, "environmentVariables": out}


def _workload_for(event: dict) -> tuple[str, str, dict[str, Any]]:
    """(rank, external id, updates) of the workload an event belongs to."""
    run_facets = (event.get("run") or {}).get("facets") or {}
    wf = run_facets.get("workload")
    if isinstance(wf, dict):
        updates = {
            "kind": wf.get("type"),
            "name": _str(wf.get("name"), 512) or _str(wf.get("id"), 512),
            "status": _str(wf.get("status"), 64),
            "owner_email": _str(wf.get("ownerEmail"), 254),
            "project_public_id": _str(wf.get("projectId")),
            "cluster_id": _str(wf.get("clusterId")),
            "cluster_started_at": _str(wf.get("clusterStartedAt")),
            "ray_version": _str(wf.get("rayVersion"), 64),
            "python_version": _str(wf.get("pythonVersion"), 64),
            "os_version": _str(wf.get("osVersion")),
            "image": _str(wf.get("image"), 1024),
            "resources": wf.get("resources") if isinstance(wf.get("resources"), dict) else None,
        }
        return _RANK_FACET, wf["id"], {k: v for k, v in updates.items() if v not in ("", None)}
    parent = run_facets.get("parent") or {}
    root_job = (parent.get("root") or {}).get("job") or parent.get("job")
    rank = _RANK_PARENT
    if not root_job:
        root_job, rank = event.get("job") or {}, _RANK_SELF
    ext_id = f"{root_job['namespace']}/{root_job['name']}"
    return rank, ext_id[:512], {"kind": "job", "name": root_job["name"][:512], "derived": True}


def _job_updates(job: dict) -> dict[str, Any]:
    facets = job.get("facets") or {}
    updates: dict[str, Any] = {f"facet:{name}": value for name, value in facets.items() if isinstance(value, dict)}
    return updates


def _owner_from_job(job: dict) -> str:
    owners = ((job.get("facets") or {}).get("ownership") or {}).get("owners") or []
    for owner in owners:
        if isinstance(owner, dict) and isinstance(owner.get("name"), str):
            return owner["name"].removeprefix("user:")[:254]
    return ""


def _dataset_updates(ds: dict) -> dict[str, Any]:
    facets = ds.get("facets") or {}
    return {f"facet:{name}": value for name, value in facets.items() if isinstance(value, dict)}


def _fields_hash(fields: list) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class _Batch:
    """Everything one batch contributes, keyed by each table's natural key."""

    def __init__(self, org: Organization):
        self.org = org
        self.workloads: dict[str, _Contrib] = defaultdict(_Contrib)
        self.jobs: dict[tuple[str, str], _Contrib] = defaultdict(_Contrib)
        self.runs: dict[str, _Contrib] = defaultdict(_Contrib)
        self.assets: dict[tuple[str, str], _Contrib] = defaultdict(_Contrib)
        self.schemas: dict[tuple[tuple[str, str], str], tuple[list, str]] = {}
        self.run_edges: dict[tuple[str, tuple[str, str], str], list[str]] = defaultdict(list)
        # JobEvents declare lineage without a run: edges straight from the job's workload.
        self.static_edges: dict[tuple[str, tuple[str, str], str], list[str]] = defaultdict(list)
        self.run_candidates: dict[str, list[tuple]] = defaultdict(list)

    def add(self, item: EventInput) -> None:
        event, cloud = item.event, item.cloud
        event_time = parse_time(event["eventTime"])
        stamp = stamp_for(event_time, item.content_hash)
        times = _time_updates(event_time)
        if "run" in event:
            self._add_run_event(event, cloud, stamp, event_time, times)
        elif "dataset" in event:
            self._add_asset(event["dataset"], cloud, stamp, event_time, times, workload_id="", owner="", project="",
                            declared=True)
        else:
            self._add_job_event(event, cloud, stamp, event_time, times)

    def _add_workload(self, ext_id: str, updates: dict, cloud: Cloud, stamp: str, times: dict) -> None:
        contrib = self.workloads[ext_id]
        contrib.seed.setdefault("cloud", cloud)
        contrib.seed.setdefault("kind", updates.get("kind", "job"))
        contrib.add(stamp, {**updates, **times, "cloud_id": cloud.pk}, _TIMES | {"cloud_id"})

    def _add_run_event(self, event: dict, cloud: Cloud, stamp: str, event_time: datetime, times: dict) -> None:
        run = event["run"]
        run_id = run["runId"].lower()
        job = event["job"]
        job_key = (job["namespace"], job["name"])
        rank, ext_id, wl_updates = _workload_for(event)
        owner = wl_updates.get("owner_email") or _owner_from_job(job)
        if owner:
            wl_updates = {**wl_updates, "owner_email": owner}
        code = (job.get("facets") or {}).get("sourceCodeLocation")
        if isinstance(code, dict):
            wl_updates = {**wl_updates, "code_location": code}
        # Which workload the run belongs to is decided once the whole batch and the stored run are
        # known (see _decide_workloads); until then this is one candidate.
        self.run_candidates[run_id].append((f"{rank}|{stamp}", ext_id, wl_updates, stamp, cloud, times))
        self.jobs[job_key].add(stamp, {**_job_updates(job), **times}, _TIMES)

        facets = run.get("facets") or {}
        run_updates: dict[str, Any] = {**times}
        for name, value in facets.items():
            if isinstance(value, dict) and name != "workload":
                run_updates[f"facet:{name}"] = _safe_env(value) if name == "environmentVariables" else value
        contrib = self.runs[run_id]
        contrib.seed.setdefault("job_key", job_key)
        contrib.add(stamp, run_updates, _TIMES)
        event_type = event.get("eventType") or ""
        if event_type and event_type != "OTHER":
            # Terminal states outrank non-terminal ones whatever the order events arrive in.
            terminal = "1" if event_type in TERMINAL_STATES else "0"
            contrib.add(f"{terminal}|{stamp}", {"state": [event_type, event_time.isoformat()]})
        if event_type == "START":
            contrib.add(stamp, {"started_at": event_time.isoformat()}, frozenset({"started_at"}))

        project = wl_updates.get("project_public_id", "")
        for direction, key in (("in", "inputs"), ("out", "outputs")):
            for ds in event.get(key) or []:
                asset_key = self._add_asset(ds, cloud, stamp, event_time, times, workload_id=ext_id, owner=owner,
                                            project=project, produced=direction == "out")
                if asset_key is not None:
                    self.run_edges[(run_id, asset_key, direction)].append(event_time.isoformat())

    def _add_job_event(self, event: dict, cloud: Cloud, stamp: str, event_time: datetime, times: dict) -> None:
        job = event["job"]
        job_key = (job["namespace"], job["name"])
        self.jobs[job_key].add(stamp, {**_job_updates(job), **times}, _TIMES)
        ext_id = f"{job['namespace']}/{job['name']}"[:512]
        owner = _owner_from_job(job)
        self._add_workload(ext_id, {"kind": "job", "name": job["name"][:512], "derived": True,
                                                 **({"owner_email": owner} if owner else {})}, cloud, stamp, times)
        for direction, key in (("in", "inputs"), ("out", "outputs")):
            for ds in event.get(key) or []:
                asset_key = self._add_asset(ds, cloud, stamp, event_time, times, workload_id=ext_id, owner=owner,
                                            project="", produced=direction == "out")
                if asset_key is not None:
                    self.static_edges[(ext_id, asset_key, direction)].append(event_time.isoformat())

    def _add_asset(self, ds: dict, cloud: Cloud, stamp: str, event_time: datetime, times: dict, *,
                   workload_id: str, owner: str, project: str, produced: bool = False,
                   declared: bool = False) -> tuple[str, str] | None:
        placed = naming.place_asset(ds["namespace"], ds["name"], workload_id=workload_id or "unknown",
                                    cloud_id=cloud.public_id)
        if placed is None:
            return None
        key = placed
        contrib = self.assets[key]
        contrib.seed.setdefault("cloud", cloud)
        origin = {"cloud_id": cloud.pk, "created_by": owner, "project_public_id": project}
        # "Created by" is whoever first produced it; a reader only counts when no producer is known.
        contrib.add(stamp if produced else "~" + stamp, {"origin": origin}, frozenset({"origin"}))
        # What an asset is (its model facts, type, owners...) is the producer's word, or a
        # DatasetEvent's: a reader's facets only fill in what no producer said, so loading a model
        # with another flavor does not rewrite the model. The schema is an observation instead:
        # the latest one seen wins, whoever saw it (every version is kept in SchemaVersion).
        facets = _dataset_updates(ds)
        observed = {k: facets.pop(k) for k in _OBSERVED_FACETS if k in facets}
        contrib.add(f"{'1' if produced or declared else '0'}|{stamp}", facets)
        contrib.add(stamp, {**observed, **times}, _TIMES)
        fields = ((ds.get("facets") or {}).get("schema") or {}).get("fields")
        if isinstance(fields, list) and fields:
            skey = (key, _fields_hash(fields))
            seen = self.schemas.get(skey)
            if seen is None or event_time.isoformat() < seen[1]:
                self.schemas[skey] = (fields, event_time.isoformat())
        return key


# --- Writing ---------------------------------------------------------------------------------------


def _merge_contrib(row: models.Model, contrib: _Contrib) -> bool:
    changed = False
    for stamp, updates, first_wins in contrib.items:
        changed |= merge_into(row.attrs, row.stamps, updates, stamp, first_wins=first_wins)
    return changed


def _upsert(
    model: type[models.Model],
    *,
    scope: dict[str, Any],
    key_fields: tuple[str, ...],
    contribs: dict,
    new_row: Callable[[Any, Any], models.Model],
    project: Callable[[models.Model], None],
    update_fields: list[str],
) -> dict[Any, models.Model]:
    """Create missing rows, lock all in key order, merge contributions, write back changed rows."""
    if not contribs:
        return {}
    keys = sorted(contribs)

    def fetch(lock: bool) -> dict:
        qs = model.objects.filter(**scope)
        if len(key_fields) == 1:
            qs = qs.filter(**{f"{key_fields[0]}__in": keys})
        else:
            for i, name in enumerate(key_fields):
                qs = qs.filter(**{f"{name}__in": {k[i] for k in keys}})
        if lock:
            qs = qs.select_for_update().order_by("pk")
        wanted = set(keys)
        out = {}
        for row in qs:
            key = getattr(row, key_fields[0]) if len(key_fields) == 1 else tuple(getattr(row, n) for n in key_fields)
            if key in wanted:
                out[key] = row
        return out

    present = fetch(lock=False)
    missing = [k for k in keys if k not in present]
    if missing:
        model.objects.bulk_create([new_row(k, contribs[k]) for k in missing], ignore_conflicts=True)
    rows = fetch(lock=True)
    changed = []
    for key, row in rows.items():
        if _merge_contrib(row, contribs[key]):
            project(row)
            changed.append(row)
    update_rows(model, changed, ["attrs", "stamps", *update_fields])
    return rows


def _first_time(contrib: _Contrib) -> datetime:
    return min(parse_time(u["first_event_at"]) for _, u, _ in contrib.items if "first_event_at" in u)


def _project_times(row: models.Model) -> None:
    row.created_at = parse_time(row.attrs["first_event_at"])
    row.updated_at = parse_time(row.attrs["last_event_at"])


def _decide_workloads(org: Organization, batch: _Batch) -> None:
    """Give each run of the batch its workload: the best-informed candidate among the stored run
    and the batch's events. Only that workload receives the events' facts; events that guessed
    another one still count towards its first and last event times."""
    stored = {
        str(r.run_id): r for r in Run.objects.filter(org=org, run_id__in=[uuid.UUID(k) for k in batch.run_candidates])
        .only("run_id", "attrs", "stamps")
    }
    for run_id, candidates in batch.run_candidates.items():
        rank_stamp, final = max((c[0], c[1]) for c in candidates)
        old = stored.get(run_id)
        if old is not None and old.stamps.get("workload", "") >= rank_stamp:
            rank_stamp, final = old.stamps["workload"], old.attrs["workload"]
        batch.runs[run_id].add(rank_stamp, {"workload": final})
        for _, ext_id, updates, stamp, cloud, times in candidates:
            batch._add_workload(final, updates if ext_id == final else {}, cloud, stamp, times)
        if old is not None and old.attrs.get("workload") != final:
            # The run moves: its earlier events' times move with it.
            for key in ("first_event_at", "last_event_at"):
                batch.workloads[final].add(old.stamps[key], {key: old.attrs[key]}, _TIMES)


def apply_events(org: Organization, items: Iterable[EventInput]) -> None:
    """Normalize a batch of one organization's events. Call inside a transaction."""
    batch = _Batch(org)
    for item in items:
        batch.add(item)
    _decide_workloads(org, batch)

    projects = _resolve_projects(org, batch)

    def project_workload(row: Workload) -> None:
        a = row.attrs
        _project_times(row)
        row.kind = a.get("kind") or "job"
        row.name = a.get("name", "")
        row.status = a.get("status", "")
        row.owner_email = a.get("owner_email", "")
        row.derived = bool(a.get("derived"))
        row.project_id = projects(a.get("cloud_id"), a.get("project_public_id", ""))

    workloads = _upsert(
        Workload, scope={"org": org}, key_fields=("external_id",), contribs=batch.workloads,
        new_row=lambda k, c: Workload(org=org, cloud=c.seed["cloud"], external_id=k, kind=c.seed["kind"],
                                      created_at=_first_time(c), updated_at=_first_time(c)),
        project=project_workload,
        update_fields=["kind", "name", "status", "owner_email", "derived", "project", "created_at", "updated_at"],
    )

    def project_job(row: Job) -> None:
        _project_times(row)
        jt = row.attrs.get("facet:jobType") or {}
        row.job_type = _str(jt.get("jobType"), 64)
        row.integration = _str(jt.get("integration"), 64)

    jobs = _upsert(
        Job, scope={"org": org}, key_fields=("namespace", "name"), contribs=batch.jobs,
        new_row=lambda k, c: Job(org=org, namespace=k[0], name=k[1], created_at=_first_time(c),
                                 updated_at=_first_time(c)),
        project=project_job, update_fields=["job_type", "integration", "created_at", "updated_at"],
    )

    # Runs point at their best-informed workload; make sure every such workload row exists.
    previous_workload: dict[str, int] = {}

    def project_run(row: Run) -> None:
        a = row.attrs
        _project_times(row)
        state = a.get("state")
        row.state = state[0] if state else ""
        row.ended_at = parse_time(state[1]) if state and state[0] in TERMINAL_STATES else None
        started = a.get("started_at") or a.get("first_event_at")
        row.started_at = parse_time(started) if started else None
        parent = (a.get("facet:parent") or {}).get("run") or {}
        row.parent_run_id = parent.get("runId")
        row.error_message = _str((a.get("facet:errorMessage") or {}).get("message"), 10_000)
        new_workload = workloads[a["workload"]].pk
        if row.workload_id != new_workload:
            previous_workload[str(row.run_id)] = row.workload_id
            row.workload_id = new_workload

    def new_run(run_id: uuid.UUID, c: _Contrib) -> Run:
        ext = next(u["workload"] for _, u, _ in c.items if "workload" in u)
        return Run(org=org, run_id=run_id, job=jobs[c.seed["job_key"]], workload=workloads[ext],
                   created_at=_first_time(c), updated_at=_first_time(c))

    runs = _upsert(
        Run, scope={"org": org}, key_fields=("run_id",), contribs=_stringify_run_keys(batch.runs),
        new_row=new_run, project=project_run,
        update_fields=["state", "started_at", "ended_at", "parent_run_id", "error_message", "workload",
                       "created_at", "updated_at"],
    )
    def project_asset(row: Asset) -> None:
        a = row.attrs
        _project_times(row)
        facets = {k.removeprefix("facet:"): v for k, v in a.items() if k.startswith("facet:")}
        row.kind = AssetKind.MODEL if naming.is_model(facets) else AssetKind.DATASET
        row.dataset_type = naming.dataset_type(facets, row.namespace, row.name)
        origin = a.get("origin") or {}
        row.cloud_id = origin.get("cloud_id")
        row.created_by = origin.get("created_by", "")
        row.project_id = projects(origin.get("cloud_id"), origin.get("project_public_id", ""))

    assets = _upsert(
        Asset, scope={"org": org}, key_fields=("namespace", "name"), contribs=batch.assets,
        new_row=lambda k, c: Asset(org=org, namespace=k[0], name=k[1], uri=naming.uri(*k)[:3072],
                                   created_at=_first_time(c), updated_at=_first_time(c)),
        project=project_asset,
        update_fields=["kind", "dataset_type", "cloud", "project", "created_by", "created_at", "updated_at"],
    )

    _write_schemas(batch, assets)
    _write_edges(org, batch, runs, assets, workloads, previous_workload)


def _stringify_run_keys(runs: dict[str, _Contrib]) -> dict[Any, _Contrib]:
    return {uuid.UUID(k): c for k, c in runs.items()}


def _resolve_projects(org: Organization, batch: _Batch) -> Callable[[int | None, str], int | None]:
    """A lookup of (cloud pk, project public id) -> project pk, registering the projects this
    batch's workloads report that are not known yet."""
    wanted: dict[str, Cloud] = {}
    for contrib in batch.workloads.values():
        for _, updates, _ in contrib.items:
            if updates.get("project_public_id"):
                wanted.setdefault(updates["project_public_id"], contrib.seed["cloud"])
    known: dict[tuple[int | None, str], int | None] = {}
    if wanted:
        Project.objects.bulk_create(
            [Project(org=org, cloud=cloud, name=pid[:100], public_id=pid) for pid, cloud in sorted(wanted.items())],
            ignore_conflicts=True,
        )
        # Only a project of the workload's own org is linked (ingest refuses the others).
        for pk, cloud_id, pid in Project.objects.filter(org=org, public_id__in=list(wanted)).values_list(
            "pk", "cloud_id", "public_id"
        ):
            known[(cloud_id, pid)] = pk

    def lookup(cloud_id: int | None, public_id: str) -> int | None:
        if not public_id or cloud_id is None:
            return None
        if (cloud_id, public_id) not in known:
            known[(cloud_id, public_id)] = (
                Project.objects.filter(org=org, cloud_id=cloud_id, public_id=public_id).values_list("pk", flat=True).first()
            )
        return known[(cloud_id, public_id)]

    return lookup


def _write_schemas(batch: _Batch, assets: dict) -> None:
    if not batch.schemas:
        return
    rows = {
        (assets[akey].pk, fhash): (fields, seen) for (akey, fhash), (fields, seen) in batch.schemas.items()
    }
    SchemaVersion.objects.bulk_create(
        [SchemaVersion(asset_id=a, fields_hash=h, fields=f, first_seen_at=parse_time(s))
         for (a, h), (f, s) in sorted(rows.items())],
        ignore_conflicts=True,
    )
    # Keep the earliest sighting when a version arrives late.
    existing = SchemaVersion.objects.filter(asset_id__in={a for a, _ in rows}, fields_hash__in={h for _, h in rows})
    later = []
    for sv in existing:
        seen = rows.get((sv.asset_id, sv.fields_hash))
        if seen and parse_time(seen[1]) < sv.first_seen_at:
            sv.first_seen_at = parse_time(seen[1])
            later.append(sv)
    update_rows(SchemaVersion, later, ["first_seen_at"])


def _upsert_edges(model, org, scope_field: str, edges: dict[tuple[int, int, str], tuple[datetime, datetime]]) -> None:
    """Insert edges, widening first/last seen of existing ones."""
    if not edges:
        return
    keys = sorted(edges)
    model.objects.bulk_create(
        [model(org=org, **{f"{scope_field}_id": s}, asset_id=a, direction=d, first_seen_at=edges[(s, a, d)][0],
               last_seen_at=edges[(s, a, d)][1]) for s, a, d in keys],
        ignore_conflicts=True,
    )
    rows = model.objects.filter(**{f"{scope_field}_id__in": {k[0] for k in keys}}, asset_id__in={k[1] for k in keys}) \
        .select_for_update().order_by("pk")
    changed = []
    for row in rows:
        seen = edges.get((getattr(row, f"{scope_field}_id"), row.asset_id, row.direction))
        if seen and (seen[0] < row.first_seen_at or seen[1] > row.last_seen_at):
            row.first_seen_at = min(row.first_seen_at, seen[0])
            row.last_seen_at = max(row.last_seen_at, seen[1])
            changed.append(row)
    update_rows(model, changed, ["first_seen_at", "last_seen_at"])


def _write_edges(org, batch: _Batch, runs: dict, assets: dict, workloads: dict, moved: dict[str, int]) -> None:
    run_edges: dict[tuple[int, int, str], tuple[datetime, datetime]] = {}
    for (run_id, akey, direction), times in batch.run_edges.items():
        run = runs[uuid.UUID(run_id)]
        run_edges[(run.pk, assets[akey].pk, direction)] = (parse_time(min(times)), parse_time(max(times)))
    _upsert_edges(RunAsset, org, "run", run_edges)

    # Workload edges are the union of their runs' edges; build them from this batch's run edges.
    wl_edges: dict[tuple[int, int, str], tuple[datetime, datetime]] = {}
    run_workload = {r.pk: r.workload_id for r in runs.values()}

    def widen(key, first, last):
        old = wl_edges.get(key)
        wl_edges[key] = (min(first, old[0]), max(last, old[1])) if old else (first, last)

    for (run_pk, asset_pk, direction), (first, last) in run_edges.items():
        widen((run_workload[run_pk], asset_pk, direction), first, last)
    for (ext_id, akey, direction), times in batch.static_edges.items():
        widen((workloads[ext_id].pk, assets[akey].pk, direction), parse_time(min(times)), parse_time(max(times)))

    if moved:
        # A better-informed event moved runs to another workload: carry all their earlier edges
        # over, and rebuild the edges of the workloads they left.
        moved_pks = [runs[uuid.UUID(r)].pk for r in moved]
        for edge in RunAsset.objects.filter(run_id__in=moved_pks).select_related("run"):
            widen((edge.run.workload_id, edge.asset_id, edge.direction), edge.first_seen_at, edge.last_seen_at)
        _upsert_edges(WorkloadAsset, org, "workload", wl_edges)
        _rebuild_workload_edges(org, set(moved.values()))
    else:
        _upsert_edges(WorkloadAsset, org, "workload", wl_edges)


def _rebuild_workload_edges(org, workload_pks: set[int]) -> None:
    WorkloadAsset.objects.filter(workload_id__in=workload_pks).delete()
    aggregated = (
        RunAsset.objects.filter(run__workload_id__in=workload_pks)
        .values("run__workload_id", "asset_id", "direction")
        .annotate(first=Min("first_seen_at"), last=Max("last_seen_at"))
    )
    WorkloadAsset.objects.bulk_create([
        WorkloadAsset(org=org, workload_id=e["run__workload_id"], asset_id=e["asset_id"], direction=e["direction"],
                      first_seen_at=e["first"], last_seen_at=e["last"]) for e in aggregated
    ])
    # A derived workload nothing points at any more was a guess that a better event corrected.
    Workload.objects.filter(pk__in=workload_pks, derived=True, runs__isnull=True).delete()
