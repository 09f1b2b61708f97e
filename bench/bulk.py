"""Bulk-load a large synthetic lineage history straight into the catalog tables with COPY, for the
export benchmark: 1M run-asset records take ~1 minute this way, hours through normalization."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from orgs.models import Organization


def _copy(cursor, table: str, columns: list[str], rows) -> list[int]:
    """COPY rows into table; return the new rows' ids in insertion order."""
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - table names are ours
    floor = cursor.fetchone()[0]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"SELECT id FROM {table} WHERE id > %s ORDER BY id", [floor])  # noqa: S608
    return [r[0] for r in cursor.fetchall()]


def lineage_records(org: Organization, n: int) -> None:
    """About n run-asset edges: n/10 runs of n/20 workloads, each run reading 5 and writing 5 of n/5 assets."""
    cloud = org.clouds.first()
    n_runs = max(1, n // 10)
    n_workloads = max(1, n_runs // 2)
    n_assets = max(20, n // 5)
    now = timezone.now()
    empty = "{}"
    with connection.cursor() as wrapper:
        c = wrapper.cursor
        workloads = _copy(c, "catalog_workload",
                          ["org_id", "cloud_id", "external_id", "kind", "name", "status", "owner_email", "derived",
                           "created_at", "updated_at", "attrs", "stamps"],
                          ((org.pk, cloud.pk, f"wl-{i}", "job", f"workload {i}", "SUCCEEDED", f"user{i % 50}@bench.test",
                            False, now, now, json.dumps({"ray_version": "2.49.0", "python_version": "3.11.7"}), empty)
                           for i in range(n_workloads)))
        jobs = _copy(c, "catalog_job", ["org_id", "namespace", "name", "job_type", "integration", "created_at",
                                        "updated_at", "attrs", "stamps"],
                     ((org.pk, f"wl-{i}", "main", "JOB", "RAY", now, now, empty, empty) for i in range(n_workloads)))
        runs = _copy(c, "catalog_run", ["org_id", "run_id", "job_id", "workload_id", "state", "started_at", "ended_at",
                                        "error_message", "created_at", "updated_at", "attrs", "stamps"],
                     ((org.pk, uuid.uuid4(), jobs[i % n_workloads], workloads[i % n_workloads], "COMPLETE",
                       now - timedelta(minutes=i), now - timedelta(minutes=i) + timedelta(seconds=30), "", now, now,
                       empty, empty) for i in range(n_runs)))
        assets = _copy(c, "catalog_asset", ["org_id", "namespace", "name", "kind", "dataset_type", "uri", "cloud_id",
                                            "created_by", "created_at", "updated_at", "attrs", "stamps"],
                       ((org.pk, "s3://bench", f"data/part-{i}.parquet", "dataset", "Parquet",
                         f"s3://bench/data/part-{i}.parquet", cloud.pk, f"user{i % 50}@bench.test", now, now, empty, empty)
                        for i in range(n_assets)))

        def edges():
            for i, run in enumerate(runs):
                at = now - timedelta(minutes=i)
                for k in range(5):
                    yield org.pk, run, assets[(i * 5 + k) % n_assets], "in", at, at
                    yield org.pk, run, assets[(i * 5 + k + n_assets // 2) % n_assets], "out", at, at

        _copy(c, "catalog_runasset", ["org_id", "run_id", "asset_id", "direction", "first_seen_at", "last_seen_at"], edges())


def raw_events(org: Organization, n: int, *, pending: bool = False, seed: int = 5) -> None:
    """n raw events (generated ~2.7 KB pipeline events) as ingest stores them: sealed and processed
    for the export bench, or `pending` (not normalized, not sealed yet) as a backlog for the
    normalization bench."""
    from bench import generator
    from ingest import chain
    from ingest.contract import canonical_json, parse_time

    cloud = org.clouds.first()
    now = timezone.now()
    start = now - timedelta(days=30)
    state = {"previous": chain.GENESIS}

    def rows():
        for seq, event in enumerate(generator.events(n, seed=seed, start=start, project_prefix=f"prj_{org.slug}",
                                                     cluster_started=start - timedelta(hours=1)), start=1):
            body = canonical_json(event)
            content_hash = chain.content_hash(body)
            head = (org.pk, cloud.pk, now, parse_time(event["eventTime"]), "run", event["run"]["runId"], body,
                    content_hash, 0, "", now)
            if pending:
                yield (*head, "pending", None, None, "")
            else:
                state["previous"] = chain.link(state["previous"], content_hash)
                yield (*head, "processed", now, seq, state["previous"])

    with connection.cursor() as wrapper:
        c = wrapper.cursor
        with c.copy("COPY ingest_rawevent (org_id, cloud_id, received_at, event_time, kind, run_id, body, content_hash, "
                    "attempts, error, enqueued_at, status, processed_at, chain_seq, chain_hash) FROM STDIN") as copy:
            for row in rows():
                copy.write_row(row)
        if not pending:
            c.execute("INSERT INTO ingest_chainseal (org_id, seq, head_hash, events, sealed_at) VALUES (%s, %s, %s, %s, %s)",
                      [org.pk, n, state["previous"], n, now])
