"""POST /api/v1/lineage and /api/v1/lineage/batch: what is accepted, and the precise 4xx for the rest."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from clouds.models import IngestKey
from clouds.services import revoke_ingest_key
from ingest.contract import canonical_json
from ingest.models import RawEvent, RawStatus
from orgs.services import set_lineage_beta
from tests.conftest import SHARED, post_event
from tests.events import at, dataset, run_event, workload

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client()


def simple_event(**kw):
    kw.setdefault("time", at(0))
    kw.setdefault("outputs", [dataset("s3://bucket", "out/table")])
    return run_event("START", "r1", **kw)


def test_valid_event_is_stored_and_normalized(client, tenant):
    r = post_event(client, tenant.key, simple_event())
    assert r.status_code == 201, r.content
    assert r.json()["status"] == "accepted"
    raw = RawEvent.objects.get(pk=r.json()["id"])
    assert raw.org == tenant.org and raw.cloud == tenant.cloud and raw.status == RawStatus.PROCESSED
    assert json.loads(raw.body) == simple_event()


def test_same_event_twice_is_acknowledged_once(client, tenant):
    first = post_event(client, tenant.key, simple_event())
    again = post_event(client, tenant.key, json.dumps(simple_event(), indent=2))  # same value, other bytes
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
    assert RawEvent.objects.count() == 1


def test_gzip_body_is_accepted(client, tenant):
    body = gzip.compress(json.dumps(simple_event()).encode())
    r = post_event(client, tenant.key, body, HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 201, r.content


def test_every_reference_event_the_spec_allows_is_accepted(client, tenant):
    accepted = 0
    for path in sorted((SHARED / "events").rglob("*.json")):
        if "expected" in path.parts or path.name == "metadata.template.json":
            continue
        r = post_event(client, tenant.key, path.read_bytes())
        assert r.status_code in (200, 201, 400), (path, r.content)
        accepted += r.status_code != 400
    assert accepted >= 30
    assert RawEvent.objects.filter(status=RawStatus.PROCESSED).count() == RawEvent.objects.count()


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"\xff\xfe{}", 400, "invalid_json"),
        (b'{"a": NaN}', 400, "invalid_json"),
        (b'{"a": 1e400}', 400, "invalid_json"),  # no float holds it: refused, not stored as Infinity
        (b"[]", 400, "invalid_event"),
        (b'"just a string"', 400, "invalid_event"),
        (b"{}", 400, "invalid_event"),
        (b"[" * 5000 + b"]" * 5000, 400, None),
    ],
)
def test_malformed_bodies(client, tenant, body, status, error):
    r = post_event(client, tenant.key, body)
    assert r.status_code == status, r.content
    if error:
        assert r.json()["error"] == error
    assert r.json()["detail"]
    assert RawEvent.objects.count() == 0


def test_schema_errors_carry_json_pointers(client, tenant):
    event = simple_event()
    event["run"]["runId"] = "nope"
    del event["job"]["name"]
    r = post_event(client, tenant.key, event)
    assert r.status_code == 400
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert {"/run/runId", "/job/name"} <= pointers


def test_nul_character_is_refused(client, tenant):
    r = post_event(client, tenant.key, json.dumps(simple_event(outputs=[dataset("s3://b", "x\u0000y")])))
    assert r.status_code == 400
    assert r.json()["errors"][0]["pointer"] == "/outputs/0/name"


@override_settings(LINEAGE_MAX_EVENT_BYTES=4096)
def test_oversized_body_is_413(client, tenant):
    event = simple_event(outputs=[dataset("s3://b", "x" * 5000)])
    r = post_event(client, tenant.key, event)
    assert r.status_code == 413 and r.json()["limit_bytes"] == 4096


@override_settings(LINEAGE_MAX_EVENT_BYTES=64 * 1024)
def test_gzip_bomb_is_refused_without_inflating_it(client, tenant):
    bomb = gzip.compress(b'{"a":"' + b"0" * 50_000_000 + b'"}')  # 50 MB inflates from ~50 kB
    assert len(bomb) < 64 * 1024
    r = post_event(client, tenant.key, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 413


def test_corrupt_gzip_is_400(client, tenant):
    r = post_event(client, tenant.key, b"\x1f\x8b\x08\x00garbage", HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 400 and r.json()["error"] == "bad_gzip"
    truncated = gzip.compress(json.dumps(simple_event()).encode())[:-12]
    r = post_event(client, tenant.key, truncated, HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 400 and r.json()["error"] == "bad_gzip"


def test_wrong_content_type_is_415(client, tenant):
    r = client.post("/api/v1/lineage", json.dumps(simple_event()), content_type="text/plain",
                    HTTP_AUTHORIZATION=f"Bearer {tenant.key}")
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    r = post_event(client, tenant.key, simple_event(), HTTP_CONTENT_ENCODING="br")
    assert r.status_code == 415 and r.json()["error"] == "unsupported_encoding"


def test_get_is_405(client, tenant):
    r = client.get("/api/v1/lineage", HTTP_AUTHORIZATION=f"Bearer {tenant.key}")
    assert r.status_code == 405 and r["Allow"] == "POST"


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, "missing_credentials"),
        ("Basic dXNlcjpwYXNz", "malformed_credentials"),
        ("Bearer", "malformed_credentials"),
        ("Bearer hunter2", "malformed_credentials"),
        ("Bearer lk_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown_key"),
    ],
)
def test_bad_credentials_are_401(client, tenant, header, error):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    r = client.post("/api/v1/lineage", json.dumps(simple_event()), content_type="application/json", **extra)
    assert r.status_code == 401 and r.json()["error"] == error
    assert r["WWW-Authenticate"].startswith("Bearer")
    assert RawEvent.objects.count() == 0


def test_revoked_key_stops_working_at_once(client, tenant):
    assert post_event(client, tenant.key, simple_event()).status_code == 201
    revoke_ingest_key(key=IngestKey.objects.get(cloud=tenant.cloud))
    r = post_event(client, tenant.key, simple_event(time=at(5)))
    assert r.status_code == 401 and r.json()["error"] == "revoked_key"


def test_key_is_never_stored_in_clear(tenant):
    for key in IngestKey.objects.all():
        assert tenant.key not in (key.key_hash, key.prefix, key.name)
    assert IngestKey.objects.filter(prefix=tenant.key.split("_")[1]).exists()


def test_org_without_beta_is_403_and_nothing_is_stored(client, tenant):
    set_lineage_beta(org=tenant.org, enabled=False)
    r = post_event(client, tenant.key, simple_event())
    assert r.status_code == 403 and r.json()["error"] == "lineage_disabled"
    assert "org admin" in r.json()["detail"]
    assert RawEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("claim", "where"),
    [({"organizationId": "globex"}, "organization"), ({"cloudId": "cld_someoneelse"}, "cloud")],
)
def test_payload_naming_another_tenant_is_403(client, tenant, claim, where):
    event = simple_event(workload_facet=workload("wl-1", **claim))
    r = post_event(client, tenant.key, event)
    assert r.status_code == 403 and where in r.json()["detail"]
    assert RawEvent.objects.count() == 0


def test_payload_naming_a_project_of_another_cloud_is_403(client, tenant, outsider_tenant):
    event = simple_event(workload_facet=workload("wl-1", projectId="prj_globex_training"))
    r = post_event(client, tenant.key, event)
    assert r.status_code == 403 and "project" in r.json()["detail"]


def test_payload_naming_its_own_tenant_is_fine(client, tenant):
    event = simple_event(workload_facet=workload("wl-1", organizationId="acme", cloudId=tenant.cloud.public_id,
                                                 projectId="prj_acme_training"))
    assert post_event(client, tenant.key, event).status_code == 201


# --- Batch -------------------------------------------------------------------------------------


def test_batch_success(client, tenant):
    events = [simple_event(time=at(i)) for i in range(5)]
    r = post_event(client, tenant.key, events, path="/api/v1/lineage/batch")
    assert r.status_code == 200
    assert r.json()["status"] == "success"
    assert r.json()["summary"] == {"received": 5, "successful": 5, "failed": 0, "retriable": 0, "non_retriable": 0,
                                   "dropped": 0, "duplicates": 0}
    assert RawEvent.objects.count() == 5


def test_batch_partial_success_lists_failures_by_index(client, tenant):
    bad = simple_event()
    bad["run"]["runId"] = "x"
    events = [simple_event(time=at(1)), bad, "not an object", simple_event(time=at(1))]
    r = post_event(client, tenant.key, events, path="/api/v1/lineage/batch")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "partial_success"
    assert body["summary"]["received"] == 4 and body["summary"]["failed"] == 2 and body["summary"]["duplicates"] == 1
    assert [f["index"] for f in body["failed_events"]] == [1, 2]
    assert all(f["retriable"] is False for f in body["failed_events"])
    assert body["failed_events"][0]["errors"][0]["pointer"] == "/run/runId"
    assert RawEvent.objects.count() == 1


def test_batch_of_only_bad_events_is_400(client, tenant):
    r = post_event(client, tenant.key, [{}, {"x": 1}], path="/api/v1/lineage/batch")
    assert r.status_code == 400 and r.json()["summary"]["failed"] == 2


def test_batch_must_be_an_array(client, tenant):
    r = post_event(client, tenant.key, simple_event(), path="/api/v1/lineage/batch")
    assert r.status_code == 400 and r.json()["error"] == "invalid_batch"


@override_settings(LINEAGE_MAX_BATCH_EVENTS=3)
def test_batch_with_too_many_events_is_413(client, tenant):
    r = post_event(client, tenant.key, [simple_event(time=at(i)) for i in range(4)], path="/api/v1/lineage/batch")
    assert r.status_code == 413 and r.json()["limit_events"] == 3


def test_batches_are_read_one_event_at_a_time_with_the_same_answers(client, tenant):
    """Batches are decoded an event at a time (contract.split_plain_array); a body that path
    declines, or an event in it that orjson refuses, is read whole by the standard path, as before."""
    events = [simple_event(time=at(1)), simple_event(time=at(2), outputs=[dataset("s3://b", "x", extra={"n": 1.5e-7})])]
    body = json.dumps(events).encode()
    r = post_event(client, tenant.key, b"\xef\xbb\xbf" + body, path="/api/v1/lineage/batch")  # a BOM: read whole
    assert r.status_code == 200 and r.json()["summary"]["successful"] == 2
    assert post_event(client, tenant.key, body, path="/api/v1/lineage/batch").json()["summary"]["duplicates"] == 2
    stored = sorted(RawEvent.objects.values_list("body", flat=True))
    assert sorted(canonical_json(e) for e in events) == stored

    for bad, says in ((b'{"n": 1e400}', "out of range"), (b'{"n": "\xff"}', "not UTF-8")):
        r = post_event(client, tenant.key, body[:-1] + b", " + bad + b"]", path="/api/v1/lineage/batch")
        assert r.status_code == 400 and r.json()["error"] == "invalid_json" and says in r.json()["detail"]
    assert RawEvent.objects.count() == 2


def test_facet_schemas_are_served(client):
    r = client.get("/spec/facets/1-0-0/WorkloadRunFacet.json")
    assert r.status_code == 200 and r["Content-Type"] == "application/schema+json"
    assert "WorkloadRunFacet" in json.loads(b"".join(r.streaming_content))["$defs"]
    assert client.get("/spec/facets/1-0-0/..%2Fsettings.py").status_code == 404
    assert client.get("/spec/facets/9-9-9/WorkloadRunFacet.json").status_code == 404


# --- The hot path: a key this process knows ------------------------------------------------------
# After a key's first request, each event is one INSERT that itself checks the key and the beta;
# whatever that INSERT does not store is answered by the precise path, exactly as before.


def test_a_known_key_costs_one_query_per_event(client, tenant, django_assert_num_queries):
    started = (timezone.now() - timedelta(hours=1)).isoformat()
    facet = workload("wl-1", cluster="c1", started=started)
    assert post_event(client, tenant.key, simple_event(workload_facet=facet)).status_code == 201
    with django_assert_num_queries(1):  # the enqueue runs on commit, outside this count
        r = client.post("/api/v1/lineage", json.dumps(simple_event(time=at(1), workload_facet=facet)),
                        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tenant.key}")
    assert r.status_code == 201 and r.json()["status"] == "accepted"
    assert RawEvent.objects.get(pk=r.json()["id"]).ingest_key.cloud == tenant.cloud


def test_beta_switched_off_stops_a_known_key_at_once(client, tenant):
    assert post_event(client, tenant.key, simple_event()).status_code == 201
    set_lineage_beta(org=tenant.org, enabled=False)
    r = post_event(client, tenant.key, simple_event(time=at(1)))
    assert r.status_code == 403 and r.json()["error"] == "lineage_disabled"
    assert RawEvent.objects.count() == 1


def test_a_revoked_known_key_is_401_before_the_body_is_judged(client, tenant):
    assert post_event(client, tenant.key, simple_event()).status_code == 201
    revoke_ingest_key(key=IngestKey.objects.get(cloud=tenant.cloud))
    for body in (b"{not json", json.dumps({"x": 1})):
        r = post_event(client, tenant.key, body)
        assert r.status_code == 401 and r.json()["error"] == "revoked_key"


def test_a_known_key_still_gets_precise_answers(client, tenant):
    first = post_event(client, tenant.key, simple_event())
    assert first.status_code == 201
    again = post_event(client, tenant.key, simple_event())
    assert again.status_code == 200 and again.json() == {"status": "duplicate", "id": first.json()["id"]}
    foreign = simple_event(time=at(2), workload_facet=workload("wl-1", organizationId="globex"))
    r = post_event(client, tenant.key, foreign)
    assert r.status_code == 403 and "organization" in r.json()["detail"]
    own = simple_event(time=at(3), workload_facet=workload("wl-1", organizationId="acme",
                                                          cloudId=tenant.cloud.public_id))
    assert post_event(client, tenant.key, own).status_code == 201
    r = post_event(client, tenant.key, b'{"eventTime": 1}')
    assert r.status_code == 400 and r.json()["error"] == "invalid_event"
    assert RawEvent.objects.count() == 2


def test_a_known_key_still_records_when_it_was_last_used(client, tenant):
    key = IngestKey.objects.get(cloud=tenant.cloud)
    assert post_event(client, tenant.key, simple_event()).status_code == 201
    key.refresh_from_db()
    assert key.last_used_at is not None
    IngestKey.objects.filter(pk=key.pk).update(last_used_at=None)
    from clouds import services

    services._last_used_due.clear()  # as if the resolution had passed since this process wrote it
    assert post_event(client, tenant.key, simple_event(time=at(1))).status_code == 201
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_large_batch_stores_new_events_once_in_arrival_order(client, tenant):
    stored = post_event(client, tenant.key, simple_event(time=at(0)))
    events = [simple_event(time=at(i)) for i in range(60)] + [simple_event(time=at(5))]
    r = post_event(client, tenant.key, events, path="/api/v1/lineage/batch")
    assert r.status_code == 200, r.content
    assert r.json()["summary"] == {"received": 61, "successful": 61, "failed": 0, "retriable": 0, "non_retriable": 0,
                                   "dropped": 0, "duplicates": 2}
    rows = list(RawEvent.objects.order_by("id").values_list("id", "body"))
    assert len(rows) == 60 and rows[0][0] == stored.json()["id"]
    assert [json.loads(body)["eventTime"] for _, body in rows] == [at(i) for i in range(60)]


def test_batches_leave_the_garbage_collector_as_they_found_it(client, tenant):
    import gc

    assert gc.isenabled()
    for body in ([simple_event()], {"not": "a list"}, b"[{not json"):
        post_event(client, tenant.key, body, path="/api/v1/lineage/batch")
        assert gc.isenabled()


@pytest.mark.services
def test_large_bodies_are_stored_lz4_compressed_and_read_back_intact(client, tenant):
    """PostgreSQL: the raw table and the batch stage both compress with lz4 (migration 0006), so a
    batch's bodies are compressed once, by the cheaper method, whichever path stored them."""
    from django.db import connection

    big = [dataset("s3://bucket", f"table_{i}", extra={"note": "x" * 40 * i}) for i in range(1, 30)]
    single = simple_event(outputs=big)
    batch = [simple_event(time=at(i), outputs=big) for i in range(1, 30)]
    assert post_event(client, tenant.key, single).status_code == 201
    assert post_event(client, tenant.key, batch, path="/api/v1/lineage/batch").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_compression(body), body FROM ingest_rawevent ORDER BY id")
        rows = cursor.fetchall()
    assert [c for c, _ in rows] == ["lz4"] * 30
    assert [json.loads(b) for _, b in rows] == [single, *batch]


def _prepared_inserts() -> int:
    """The single-event INSERTs this connection has prepared on the server."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ['INSERT INTO "ingest_rawevent"%'])
        return cursor.fetchone()[0]


@pytest.mark.services
@pytest.mark.eager
@pytest.mark.django_db(transaction=True)  # committed, so the test can start on a new connection
def test_the_single_event_insert_is_prepared_and_still_checks_the_key_and_the_beta(client, tenant):
    """PostgreSQL: the hot INSERT runs on a server-bound cursor, which psycopg prepares from its
    fifth run on a connection (settings: prepare_threshold), so PostgreSQL stops parsing and
    planning it for every event. Prepared, it still refuses a revoked key and an organization
    without the beta at the next request."""
    from django.db import connection

    connection.close()
    assert _prepared_inserts() == 0
    for i in range(8):
        assert post_event(client, tenant.key, simple_event(time=at(i))).status_code == 201
    assert _prepared_inserts() == 1
    set_lineage_beta(org=tenant.org, enabled=False)
    r = post_event(client, tenant.key, simple_event(time=at(8)))
    assert r.status_code == 403 and r.json()["error"] == "lineage_disabled"
    set_lineage_beta(org=tenant.org, enabled=True)
    assert post_event(client, tenant.key, simple_event(time=at(9))).status_code == 201
    revoke_ingest_key(key=IngestKey.objects.get(cloud=tenant.cloud))
    r = post_event(client, tenant.key, simple_event(time=at(10)))
    assert r.status_code == 401 and r.json()["error"] == "revoked_key"
    assert RawEvent.objects.count() == 9


@pytest.mark.services
@pytest.mark.eager
@pytest.mark.django_db(transaction=True)
def test_with_prepared_statements_off_the_single_event_insert_is_not_prepared(client, tenant):
    """DATABASE_PREPARED_STATEMENTS=false (behind a pooler that does not keep prepared statements)
    leaves psycopg's threshold unset: events are stored as before and nothing is prepared."""
    from django.db import connection

    connection.close()
    connection.ensure_connection()
    saved, connection.connection.prepare_threshold = connection.connection.prepare_threshold, None
    try:
        for i in range(8):
            assert post_event(client, tenant.key, simple_event(time=at(i))).status_code == 201
        assert _prepared_inserts() == 0
    finally:
        connection.connection.prepare_threshold = saved
    assert RawEvent.objects.count() == 8
