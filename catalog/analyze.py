"""Planner statistics that keep up with a growing organization.

PostgreSQL plans an organization's queries by what the last ANALYZE saw of it, and autovacuum
analyzes a table only once a tenth of it has changed: in a catalog table of 5 million rows a new
tenant may load 500,000 before the statistics know it exists. Until then every query of it is
planned for a row or two, and some such plans read the tenant's rows once per row (a workloads list
filtered by "reads this dataset" ran for over a minute at 60,000 rows). The lists and the
normalizer avoid the plans found so far (catalog.pagination.window, catalog.bulk.Table.select);
`refresh_statistics()` shortens the time any plan is made blind: it ANALYZEs each catalog table in which
`LINEAGE_ANALYZE_AFTER_ROWS` rows changed since its last analysis (by anyone, as PostgreSQL counts
them for autovacuum), at most once every `LINEAGE_ANALYZE_EVERY_SECONDS` per table. A worker's normalize
task starts it after each drain (not one run eagerly inside a request), so a tenant loading its history is known within a minute or so.

It runs beside the normalizer, not in its way (`refresh_statistics_in_background`): ANALYZE of a
large catalog takes seconds (~1.9 s for the seven tables at 1.3 million run-asset edges), and a
worker that waited for it left the events arriving meanwhile waiting too (lag p99 1.6 s at half of
peak ingest, 0.1-0.3 s otherwise). ANALYZE takes a lock that writers do not conflict with.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection

from catalog.models import Asset, Job, Run, RunAsset, SchemaVersion, Workload, WorkloadAsset

log = logging.getLogger(__name__)

TABLES = tuple(m._meta.db_table for m in (Asset, Workload, Job, Run, WorkloadAsset, RunAsset, SchemaVersion))


def stale_tables() -> list[str]:
    """The catalog tables due for ANALYZE (PostgreSQL; none elsewhere)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY(%s)"
            " AND n_mod_since_analyze >= %s AND coalesce(greatest(last_analyze, last_autoanalyze), '-infinity')"
            " < now() - make_interval(secs => %s) ORDER BY relname",
            [list(TABLES), settings.LINEAGE_ANALYZE_AFTER_ROWS, settings.LINEAGE_ANALYZE_EVERY_SECONDS])
        return [name for (name,) in cursor.fetchall()]


def refresh_statistics() -> list[str]:
    """ANALYZE the catalog tables that are due; returns their names."""
    tables = stale_tables()
    for table in tables:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    if tables:
        log.info("analyzed %s", ", ".join(tables))
    return tables


_refreshing = threading.Lock()


def refresh_statistics_in_background() -> threading.Thread | None:
    """refresh_statistics() on a thread of its own, with its own database connection, so that the
    caller goes on (the worker claims the next events meanwhile). One at a time per process: None
    if one is still running."""
    if not _refreshing.acquire(blocking=False):
        return None

    def run() -> None:
        try:
            refresh_statistics()
        except Exception:  # statistics are an optimisation: log, never take the worker down
            log.exception("refreshing planner statistics failed")
        finally:
            connection.close()  # this thread's own
            _refreshing.release()

    thread = threading.Thread(target=run, name="refresh-statistics", daemon=True)
    thread.start()
    return thread
