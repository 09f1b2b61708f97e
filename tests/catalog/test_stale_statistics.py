"""Statements whose cost must not depend on what PostgreSQL's statistics know of the organization.

An organization whose rows arrived after a table's last ANALYZE (a new tenant loading its history)
is estimated at a row or two, and plans built on that estimate read all of its rows once per key
or per row: the normalizer's read of a batch's stored rows (catalog.bulk.Table.select) and a deep
page of a list (catalog.pagination.window) grew with the organization's size squared."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.utils import timezone

from catalog.bulk import Table
from catalog.models import Asset, Workload
from catalog.pagination import DeepPaginator, estimated_count
from clouds.services import create_cloud
from orgs.services import create_org

pytestmark = [pytest.mark.django_db, pytest.mark.services]  # PostgreSQL only: plans and statistics

ASSET_COLUMNS = ["org", "namespace", "name", "uri", "kind", "dataset_type", "created_by", "created_at", "updated_at",
                 "attrs", "stamps"]
WORKLOAD_COLUMNS = ["org", "cloud", "external_id", "kind", "name", "status", "owner_email", "derived", "created_at",
                    "updated_at", "attrs", "stamps"]


def grow(org, n: int, start: int = 0) -> None:
    """n more assets and workloads of the organization (numbered from `start`), written as the
    normalizer writes new rows."""
    now = timezone.now()
    Table(Asset).insert(ASSET_COLUMNS, [(org.pk, "s3://big", f"part-{i}", f"s3://big/part-{i}", "dataset", "Parquet",
                                         "", now, now, {}, {}) for i in range(start, start + n)])
    cloud = org.clouds.first() or create_cloud(org=org, name="main")[0]
    Table(Workload).insert(WORKLOAD_COLUMNS, [(org.pk, cloud.pk, f"wl-{i}", "job", f"wl {i}", "", "", False, now, now, {}, {})
                                              for i in range(start, start + n)])


def stale_statistics_then_grow(n: int):
    """A neighbour known to the statistics, then a newcomer with n assets and workloads that they
    predate."""
    neighbour, _ = create_org(slug="neighbour", name="Neighbour")
    grow(neighbour, 50)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_asset")
        cursor.execute("ANALYZE catalog_workload")
    org, _ = create_org(slug="newcomer", name="Newcomer")
    grow(org, n)
    return org


def captured(call) -> tuple[object, list[tuple[str, list]]]:
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        result = call()
    return result, statements


def rows_read(statement: str, params: list) -> int:
    """Rows the statement's scans of catalog tables produced in all, by EXPLAIN ANALYZE."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def walk(node: dict) -> int:
        own = 0
        if node.get("Relation Name", "").startswith("catalog_"):
            own = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
        return own + node.get("Rows Removed by Join Filter", 0) + sum(walk(n) for n in node.get("Plans", []))

    return walk(plan[0]["Plan"])


@pytest.mark.parametrize(("model", "key_fields", "keys"), [
    (Asset, ("namespace", "name"), [("s3://big", f"part-{i}") for i in range(0, 3000, 30)] + [("s3://big", "new")]),
    (Workload, ("external_id",), [f"wl-{i}" for i in range(0, 3000, 30)] + ["wl-new"]),
])
def test_reading_a_batchs_rows_costs_its_keys_not_the_organizations_size(model, key_fields, keys):
    org = stale_statistics_then_grow(3000)
    rows, statements = captured(lambda: Table(model).select({"org": org.pk}, key_fields, keys, [*key_fields, "id"]))
    assert len(rows) == len(keys) - 1  # every stored key found, the new one not
    assert {r[:len(key_fields)] if len(key_fields) > 1 else r[0] for r in rows} == set(keys[:-1])
    [(sql, params)] = statements
    # 100 keys found, of 3,000 rows: each key is one probe of the unique index. The plan the
    # statistics suggested read the 3,000 rows and compared each with every key.
    assert rows_read(sql, params) <= 2 * len(keys)


def test_a_deep_page_costs_the_organizations_size_once_not_squared():
    org = stale_statistics_then_grow(3000)
    datasets = Asset.objects.filter(org=org, kind="dataset").order_by("name", "id")
    paginator = DeepPaginator(datasets, 25)
    paginator.few = 1000  # window() pages lists longer than `few` (20,000): lowered, this one of 3,000 does
    assert paginator.count == 3000
    page, statements = captured(lambda: list(paginator.page(40).object_list))  # rows 976-1000, by name
    assert [a.name for a in page] == sorted(f"part-{i}" for i in range(3000))[975:1000]
    # The keys of the window, then its rows: each statement reads the organization's rows at most
    # once. Planned as one statement with the keys as a subquery, the statistics' one-row guess
    # made a semi join that ran the subquery again for each of the 3,000 rows (3 million read).
    assert sum(rows_read(sql, params) for sql, params in statements) <= 2 * 3000 + 100


@pytest.mark.django_db(transaction=True)  # committed rows: PostgreSQL counts changes at commit
def test_tables_a_new_tenant_filled_are_analyzed_after_the_normalizer_drains():
    from django.test import override_settings

    from catalog.analyze import refresh_statistics

    def estimated(org) -> int:
        return estimated_count(Asset.objects.filter(org=org))

    org = stale_statistics_then_grow(3000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # this session's counts, now rather than in a second
    assert estimated(org) < 100  # planned blind
    with override_settings(LINEAGE_ANALYZE_AFTER_ROWS=1000, LINEAGE_ANALYZE_EVERY_SECONDS=0):
        assert {"catalog_asset", "catalog_workload"} <= set(refresh_statistics())
        assert 2000 < estimated(org) < 4000
        assert refresh_statistics() == []  # nothing changed since
    with override_settings(LINEAGE_ANALYZE_AFTER_ROWS=1000, LINEAGE_ANALYZE_EVERY_SECONDS=3600):
        grow(org, 1500, start=3000)  # due by count, not yet by time
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
        assert refresh_statistics() == []


@pytest.mark.django_db(transaction=True)
def test_the_worker_refreshes_statistics_beside_its_normalizing_not_before_it():
    """A drain of the normalize task is followed by ANALYZE of the tables that changed much; the task
    returns without waiting for it (ANALYZE of a large catalog takes seconds, which the events
    arriving meanwhile would wait too). Made to wait here by a lock ANALYZE needs and writers do not."""
    import threading
    import time

    import psycopg
    from django.db import transaction
    from django.test import override_settings

    from catalog import analyze
    from clouds.models import IngestKey
    from ingest.contract import parse_event
    from ingest.services import accept_events
    from ingest.tasks import normalize_events
    from tests.conftest import make_tenant
    from tests.e2e.support import subprocess_database_url
    from tests.events import at, run_event

    org = stale_statistics_then_grow(3000)
    tenant = make_tenant("busy")
    key = IngestKey.objects.get(cloud=tenant.cloud)
    with transaction.atomic():
        ids = [o.raw_id for o in accept_events(key=key, infos=[(0, parse_event(run_event("START", "r", time=at(0))))])]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")

    def analyze_waiting() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND query ILIKE 'ANALYZE%%' AND wait_event_type = 'Lock'")
            return cursor.fetchone()[0] > 0

    with override_settings(LINEAGE_ANALYZE_AFTER_ROWS=1000, LINEAGE_ANALYZE_EVERY_SECONDS=0), \
            psycopg.connect(subprocess_database_url()) as blocker:
        blocker.execute("LOCK TABLE catalog_asset IN SHARE UPDATE EXCLUSIVE MODE")
        release = threading.Timer(5.0, blocker.rollback)
        release.start()
        started = time.monotonic()
        assert normalize_events(ids) == 1
        returned_after = time.monotonic() - started
        waited = any(analyze_waiting() or time.sleep(0.1) for _ in range(30))
        release.join()
        # The refresh ends once the lock is gone; then the newcomer is known to the planner.
        assert analyze._refreshing.acquire(timeout=60)
        analyze._refreshing.release()
    assert returned_after < 3.0, f"the task waited {returned_after:.1f} s for ANALYZE"
    assert waited, "no ANALYZE ran beside the task"
    assert estimated_count(Asset.objects.filter(org=org)) > 2000


@pytest.mark.eager
def test_normalizing_eagerly_inside_a_request_leaves_analyzing_to_workers(tenant):
    from ingest.tasks import normalize_events
    from tests.events import at, dataset, run_event
    from tests.ingest.test_pipeline import store_pending

    ids = store_pending(tenant, [run_event("COMPLETE", "r", time=at(0), outputs=[dataset("s3://b", "k")])])
    done, statements = captured(lambda: normalize_events.apply(args=[ids]).get())
    assert done == 1
    assert not [sql for sql, _ in statements if "pg_stat_user_tables" in sql or sql.startswith("ANALYZE")]
