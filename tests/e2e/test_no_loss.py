"""No event is lost when the broker is down: ingest answers quickly and keeps the raw events
pending, a restarted (and emptied) Redis plus the sweeper get every one of them normalized.

The broker is a redis-server of our own on a free port, without persistence, so stopping it
also loses what was queued, as a crashed broker would.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from catalog.models import Asset, Workload, WorkloadAsset
from catalog.models import Run as CatalogRun
from ingest import pipeline
from ingest.models import RawEvent, RawStatus
from ingest.tasks import normalize_events
from tests.conftest import make_tenant, post_event
from tests.e2e.support import (
    RedisServer,
    celery_broker,
    free_port,
    iso,
    queue_length,
    start_worker,
    subprocess_database_url,
    wait_until,
)
from tests.events import dataset, run_event, workload

pytestmark = pytest.mark.services

N_WORKLOADS = 5
MAX_REQUEST_SECONDS = 3.0


@pytest.fixture
def own_redis(processes, tmp_path):
    server = processes.add(RedisServer(free_port(), tmp_path / "redis.log"))
    server.start()
    return server


def _events(org_slug: str, n: int, *, now: datetime) -> list[dict]:
    """n workloads, each one run reading a CSV from S3 and writing Parquet to shared storage."""
    started = iso(now - timedelta(hours=1))
    events = []
    for i in range(n):
        wf = workload(f"prodjob_{i}", name=f"job-{i}", cluster=f"ses_{org_slug}_{i}", started=started)
        src = dataset("s3://landing", f"in/part-{i}.csv")
        dst = dataset("file", f"/mnt/shared_storage/out/part-{i}.parquet")
        run = f"{org_slug}-run-{i}"
        events.append(run_event("START", run, job=("noloss", f"job_{i}"), time=iso(now + timedelta(seconds=2 * i)),
                                inputs=[src], workload_facet=wf))
        events.append(run_event("COMPLETE", run, job=("noloss", f"job_{i}"),
                                time=iso(now + timedelta(seconds=2 * i + 1)), inputs=[src], outputs=[dst],
                                workload_facet=wf))
    return events


def _counts(org) -> dict:
    return {
        "workloads": Workload.objects.in_org(org).count(),
        "assets": Asset.objects.in_org(org).count(),
        "edges": WorkloadAsset.objects.in_org(org).count(),
        "complete_runs": CatalogRun.objects.in_org(org).filter(state="COMPLETE").count(),
        "processed": RawEvent.objects.in_org(org).filter(status=RawStatus.PROCESSED).count(),
    }


def test_events_posted_while_the_broker_is_down_are_not_lost(processes, own_redis, settings, tmp_path):
    tenant = make_tenant("noloss")
    org = tenant.org
    events = _events(org.slug, N_WORKLOADS, now=datetime.now(UTC))
    client = Client()

    with celery_broker(own_redis.url, settings):
        # The broker is up: the first event's task is queued on *our* Redis (the app publishes there).
        response = post_event(client, tenant.key, events[0])
        assert response.status_code == 201, response.content
        assert queue_length(own_redis.url) == 1

        # The broker goes away (and, without persistence, takes the queued task with it).
        own_redis.stop()
        durations = []
        for event in events[1:]:
            started = time.monotonic()
            response = post_event(client, tenant.key, event)
            durations.append(time.monotonic() - started)
            assert response.status_code == 201, response.content
        assert max(durations) < MAX_REQUEST_SECONDS, f"ingest waited on the dead broker: {durations}"
        raw_ids = sorted(RawEvent.objects.in_org(org).values_list("id", flat=True))
        assert len(raw_ids) == len(events)
        assert set(RawEvent.objects.in_org(org).values_list("status", flat=True)) == {RawStatus.PENDING}

        # The broker comes back empty; a worker starts on it. Nothing tells it about the events...
        own_redis.start()
        assert queue_length(own_redis.url) == 0
        worker = processes.add(start_worker(broker_url=own_redis.url, database_url=subprocess_database_url(),
                                            log_path=tmp_path / "worker.log", name="e2e-noloss"))
        wait_until(lambda: "ready." in worker.log(), timeout=60, message=lambda: f"the worker to be ready:\n{worker.log()}")
        time.sleep(1.0)
        assert RawEvent.objects.in_org(org).filter(status=RawStatus.PENDING).count() == len(events)

        # ...until the sweeper re-enqueues them, through the same app that failed to publish them.
        swept = pipeline.sweep_pending(older_than_seconds=0)
        assert sorted(swept) == raw_ids
        for start in range(0, len(swept), 4):
            normalize_events.delay(swept[start:start + 4])

        expected = {"workloads": N_WORKLOADS, "assets": 2 * N_WORKLOADS, "edges": 2 * N_WORKLOADS,
                    "complete_runs": N_WORKLOADS, "processed": len(events)}
        wait_until(lambda: _counts(org) == expected, timeout=60,
                   message=lambda: f"every event to be normalized: expected {expected}, got {_counts(org)}\n"
                                   f"worker log:\n{worker.log()}")
        assert not RawEvent.objects.in_org(org).exclude(error="").exists()
        assert worker.alive(), worker.log()


def test_a_worker_killed_mid_batch_loses_nothing(processes, own_redis, settings, tmp_path):
    """kill -9 a worker in the middle of a batch: what it had committed stays, the chunk it was
    in rolls back to pending, and the sweeper run by beat (embedded in a second worker) gets the
    rest normalized. The first worker's task was acked late, so Redis still holds it as unacked
    (redelivered only after the hour-long visibility timeout): only the sweeper saves those events."""
    n = 100
    tenant = make_tenant("killed")
    org = tenant.org
    events = _events(org.slug, n, now=datetime.now(UTC))
    database_url = subprocess_database_url()

    with celery_broker(own_redis.url, settings):
        # One batch request: one task with all the ids, normalized by the worker one event per
        # transaction (LINEAGE_NORMALIZE_BATCH=1) so there is a middle to kill it in.
        response = post_event(Client(), tenant.key, events, path="/api/v1/lineage/batch")
        assert response.status_code == 200, response.content
        assert response.json()["summary"]["successful"] == len(events)
        assert queue_length(own_redis.url) == 1

        first = processes.add(start_worker(broker_url=own_redis.url, database_url=database_url,
                                           log_path=tmp_path / "worker-1.log", name="e2e-doomed",
                                           LINEAGE_NORMALIZE_BATCH="1"))

        def processed() -> int:
            return RawEvent.objects.in_org(org).filter(status=RawStatus.PROCESSED).count()

        wait_until(lambda: processed() >= 5, timeout=60, interval=0.02,
                   message=lambda: f"the first worker to start normalizing:\n{first.log()}")
        first.kill9()
        # A COMMIT the worker sent just before it died may still land: let the server settle.
        time.sleep(0.5)
        done_at_kill = processed()
        assert 5 <= done_at_kill < len(events), f"the worker finished ({done_at_kill}) before it could be killed"
        time.sleep(1.0)
        assert processed() == done_at_kill  # nobody else is working on them
        assert RawEvent.objects.in_org(org).filter(status=RawStatus.PENDING).count() == len(events) - done_at_kill
        assert queue_length(own_redis.url) == 0  # the task is out of the queue (unacked), not back in it

        # A second worker with beat: the periodic sweep re-enqueues what is still pending.
        second = processes.add(start_worker(
            broker_url=own_redis.url, database_url=database_url, log_path=tmp_path / "worker-2.log",
            name="e2e-survivor", extra_args=["--beat", "--schedule", str(tmp_path / "beat-schedule")],
            LINEAGE_SWEEP_INTERVAL_SECONDS="1", LINEAGE_SWEEP_AFTER_SECONDS="1",
        ))
        expected = {"workloads": n, "assets": 2 * n, "edges": 2 * n, "complete_runs": n, "processed": len(events)}
        wait_until(lambda: _counts(org) == expected, timeout=60,
                   message=lambda: f"every event to be normalized: expected {expected}, got {_counts(org)}\n"
                                   f"second worker log:\n{second.log()}")
        assert "swept" in second.log()
        assert not RawEvent.objects.in_org(org).exclude(error="").exists()
