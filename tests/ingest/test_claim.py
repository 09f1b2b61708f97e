"""The normalizer's claim of pending raw events costs the batch it claims, not the backlog.

In steady state the queue is nearly empty when ingest_rawevent is analyzed, and autovacuum analyzes
it again only once a tenth of it has changed: a backlog that builds up after a worker outage is
estimated at a row or two. The claim planned on that estimate read and sorted every pending row for
each batch, so a drain cost its backlog squared (ingest migration 0007)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction

from bench import bulk
from ingest.models import RawEvent, RawStatus
from ingest.pipeline import _claim

pytestmark = [pytest.mark.django_db, pytest.mark.services, pytest.mark.eager]  # PostgreSQL plans

BACKLOG = 3000


def backlog_after_analyze(org) -> list[int]:
    """The steady state the statistics saw (events that went through the queue, a few still in it),
    then a backlog they predate; the pending ids in order."""
    bulk.raw_events(org, 2000, pending=True, seed=3)
    RawEvent.objects.filter(org=org).update(status=RawStatus.PROCESSED)  # as normalizing leaves them
    bulk.raw_events(org, 5, pending=True, seed=4)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ingest_rawevent")
    bulk.raw_events(org, BACKLOG, pending=True, seed=5)
    return list(RawEvent.objects.filter(org=org, status=RawStatus.PENDING).order_by("id").values_list("id", flat=True))


def rows_fetched() -> int:
    """Rows of ingest_rawevent this transaction's scans have fetched so far (PostgreSQL's own count)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables"
                       " WHERE relname = 'ingest_rawevent'")
        return cursor.fetchone()[0]


def test_claiming_the_oldest_pending_events_reads_them_not_the_backlog(tenant):
    pending = backlog_after_analyze(tenant.org)
    before = rows_fetched()
    claimed = _claim([], 500, fill=True)
    assert [r.id for r in claimed] == pending[:500]
    assert {r.org_id for r in claimed} == {tenant.org.pk} and all(r.body.startswith("{") for r in claimed)
    # Planned on the statistics, the claim read all 3,005 pending rows, bodies and all, and sorted them.
    assert rows_fetched() - before <= 550


def test_claiming_given_events_reads_them_not_the_backlog(tenant):
    pending = backlog_after_analyze(tenant.org)
    wanted = pending[-200:]
    processed = RawEvent.objects.filter(org=tenant.org, status=RawStatus.PROCESSED).values_list("id", flat=True)[:5]
    before = rows_fetched()
    claimed = _claim([*wanted, *processed], 500, fill=False)
    assert [r.id for r in claimed] == wanted  # the processed ones are not claimed again
    # Planned on the statistics, this walked the whole backlog looking for the 200.
    assert rows_fetched() - before <= 250


@pytest.mark.django_db(transaction=True)  # another connection must see the rows and hold some
def test_the_claim_skips_rows_another_worker_holds(tenant):
    bulk.raw_events(tenant.org, 30, pending=True, seed=6)
    pending = list(RawEvent.objects.filter(status=RawStatus.PENDING).order_by("id").values_list("id", flat=True))
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                         password=settings["PASSWORD"], dbname=settings["NAME"]) as other:
        other.execute("SELECT id FROM ingest_rawevent WHERE id = ANY(%s) FOR UPDATE", [pending[:10]])
        with transaction.atomic():
            assert [r.id for r in _claim(pending[5:15], 12, fill=True)] == pending[10:22]
            assert _claim(pending[:10], 12, fill=False) == []
