"""The database goes away under a running application server: ingest answers 503 with
Retry-After (never 500, never a hang), and the official OpenLineage client, whose default retry
policy retries 503 and honours Retry-After, gets its event stored once the database is back.

The application runs as gunicorn in a subprocess, reaching PostgreSQL through a TCP proxy of
ours; stopping the proxy closes its listening socket and every live connection, as a database
host going away would. Run with persistent connections (the default, CONN_MAX_AGE=600 with health
checks: the server must also notice that its open connection died) and with one per request.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_new_uuid

from ingest.models import RawEvent
from tests.conftest import make_tenant
from tests.e2e.support import (
    PG_HOST,
    PG_PORT,
    PRODUCER,
    RedisServer,
    StatusRecorder,
    TcpProxy,
    WorkloadRunFacet,
    free_port,
    iso,
    ol_client,
    start_gunicorn,
    subprocess_database_url,
    wait_until_serving,
)

pytestmark = pytest.mark.services

# settings: connect_timeout=3 s. A refused connection fails at once; allow for a slow machine.
MAX_503_SECONDS = 5.0
RESTORE_AFTER_SECONDS = 2.0


def _event(org_slug: str, label: str, *, now: datetime) -> RunEvent:
    wf = WorkloadRunFacet(type="job", id=f"prodjob_{label}", name=label, ownerEmail="owner@acme.test",
                          clusterId=f"ses_{org_slug}_{label}", clusterStartedAt=iso(now - timedelta(hours=1)),
                          producer=PRODUCER)
    return RunEvent(eventType=RunState.COMPLETE, eventTime=iso(now), run=Run(runId=str(generate_new_uuid()),
                    facets={"workload": wf}), job=Job(namespace="dbdown", name=label), producer=PRODUCER,
                    inputs=[InputDataset(namespace="s3://landing", name=f"{label}.csv")],
                    outputs=[OutputDataset(namespace="file", name=f"/mnt/shared_storage/{label}.parquet")])


def _post(base: str, key: str, event: RunEvent) -> requests.Response:
    return requests.post(f"{base}/api/v1/lineage", data=Serde.to_json(event), timeout=30,
                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})


def _access_log(path: Path) -> list[tuple[int, str, str, float]]:
    rows = []
    for line in path.read_text().splitlines():
        status, method, url, seconds = line.split()
        rows.append((int(status), method, url, float(seconds)))
    return rows


def _stored(org, run_id: str) -> bool:
    return RawEvent.objects.in_org(org).filter(run_id=run_id).exists()


@pytest.mark.parametrize("conn_max_age", ["600", "0"], ids=["persistent-connections", "connection-per-request"])
def test_ingest_answers_503_while_the_database_is_down_and_the_client_recovers(processes, tmp_path, conn_max_age):
    tenant = make_tenant("dbdown")
    org = tenant.org
    now = datetime.now(UTC)

    proxy = processes.add(TcpProxy((PG_HOST, PG_PORT)))
    proxy.start()
    redis_server = processes.add(RedisServer(free_port(), tmp_path / "redis.log"))
    redis_server.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    access_log = tmp_path / "access.log"
    server = processes.add(start_gunicorn(port=port, database_url=subprocess_database_url(proxy.port),
                                          broker_url=redis_server.url, log_path=tmp_path / "gunicorn.log",
                                          access_log=access_log, DATABASE_CONN_MAX_AGE=conn_max_age))

    wait_until_serving(base, server)

    # 1. Database reachable: stored.
    first = _event(org.slug, "first", now=now)
    response = _post(base, tenant.key, first)
    assert response.status_code == 201, response.text
    assert _stored(org, first.run.runId)
    assert proxy.accepted >= 1, "the server did not reach PostgreSQL through the proxy"

    # 2. Database gone (and the server's open connection with it): 503 + Retry-After, quickly.
    proxy.stop()
    lost = _event(org.slug, "while-down", now=now + timedelta(seconds=1))
    started = time.monotonic()
    response = _post(base, tenant.key, lost)
    elapsed = time.monotonic() - started
    assert response.status_code == 503, (response.status_code, response.text[:2000], server.log())
    assert elapsed < MAX_503_SECONDS, f"the 503 took {elapsed:.1f}s"
    assert response.headers.get("Retry-After", "").isdigit(), dict(response.headers)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "service_unavailable"
    assert not _stored(org, lost.run.runId)
    batch = requests.post(f"{base}/api/v1/lineage/batch", data=f"[{Serde.to_json(lost)}]", timeout=30,
                          headers={"Content-Type": "application/json", "Authorization": f"Bearer {tenant.key}"})
    assert batch.status_code == 503 and batch.headers.get("Retry-After", "").isdigit(), (batch.status_code, batch.text[:500])
    # A page (its session is read from the database) says so as a page.
    page = requests.get(f"{base}/o/{org.slug}/datasets/", headers={"Accept": "text/html"}, timeout=30,
                        cookies={"sessionid": "a" * 32})
    assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html"), (page.status_code, page.text[:500])
    assert "The database is unavailable; retry shortly." in page.text

    # 3. The official client, default retry policy, emits while the database is down; the
    #    database comes back while it waits as Retry-After says.
    recovered = _event(org.slug, "recovered", now=now + timedelta(seconds=2))
    restore_error: list[BaseException] = []

    def restore() -> None:
        try:
            time.sleep(RESTORE_AFTER_SECONDS)
            proxy.start()
        except BaseException as exc:  # surfaced below
            restore_error.append(exc)

    recorder = StatusRecorder()
    client = ol_client(base, tenant.key, recorder=recorder, timeout=30)
    restorer = threading.Thread(target=restore, name="restore-database", daemon=True)
    responses_before = len(_access_log(access_log))
    started = time.monotonic()
    restorer.start()
    try:
        client.emit(recovered)  # raises if the retries run out or the final answer is an error
    finally:
        restorer.join(timeout=10)
        client.close()
    elapsed = time.monotonic() - started
    assert not restore_error, restore_error
    assert recorder.statuses == [201]
    assert _stored(org, recovered.run.runId)
    assert elapsed >= RESTORE_AFTER_SECONDS - 0.5, "the emit did not have to wait for the database"
    assert elapsed < 30, f"the client needed {elapsed:.1f}s"

    # What the server answered during the emit: 503s (the client retried them), then 201.
    during = [status for status, method, url, _ in _access_log(access_log)[responses_before:]
              if url == "/api/v1/lineage"]
    assert during[-1] == 201 and during[:-1] and set(during[:-1]) == {503}, during

    # Never a 500 (or any 5xx but 503), and no request waited on the dead database.
    log = _access_log(access_log)
    assert [row for row in log if row[0] >= 500 and row[0] != 503] == [], log
    assert max(seconds for *_, seconds in log) < MAX_503_SECONDS, log
    assert server.alive(), server.log()
