"""The normalizer claims pending raw events in id order through the pending-id index, whatever the
statistics say (`ingest_claim_pending`, PostgreSQL).

The claim was `status = 'pending' [AND id IN (...)] ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED`,
planned by what the last ANALYZE saw of the pending rows. In steady state the queue is nearly empty
when the table is analyzed, and autovacuum analyzes it again only once a tenth of it has changed:
after a worker outage, a backlog of any size is estimated at a row or two. Then the planner reads
every pending row (bodies and all) and sorts them, for each batch of 500. Measured on a 165,000-row
table analyzed with 20 events pending and a backlog of 60,000 after it: 228 ms per claim instead of
~4 ms, and 33 ms for a claim of 500 given ids, which scanned the whole backlog for them. A drain
cost its backlog squared, exactly when the lag matters most.

The function plans its two statements with sorts and bitmap scans disabled (its own SET clauses,
undone when it returns), which leaves only ordered index scans: the partial index of pending ids
(`rawevent_pending_id`) for the oldest ones, primary-key or pending-id probes for given ids. Either
reads the rows it claims (plus, for the oldest, the index entries of rows normalized since the last
vacuum), not the backlog.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION ingest_claim_pending(p_ids bigint[], p_room integer)
RETURNS SETOF ingest_rawevent
LANGUAGE plpgsql VOLATILE
SET enable_sort = off
SET enable_bitmapscan = off
AS $claim$
DECLARE
    v_claimed integer;
BEGIN
    -- The given events still pending, locked; those another worker holds are skipped (it has them).
    RETURN QUERY SELECT * FROM ingest_rawevent
        WHERE status = 'pending' AND id = ANY(p_ids) ORDER BY id FOR UPDATE SKIP LOCKED;
    GET DIAGNOSTICS v_claimed = ROW_COUNT;
    -- With room (p_room NULL: none wanted), the oldest other pending events.
    IF p_room IS NOT NULL AND v_claimed < p_room THEN
        RETURN QUERY SELECT * FROM ingest_rawevent
            WHERE status = 'pending' AND id <> ALL(p_ids) ORDER BY id LIMIT p_room - v_claimed
            FOR UPDATE SKIP LOCKED;
    END IF;
END
$claim$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION ingest_claim_pending(bigint[], integer)")


class Migration(migrations.Migration):
    dependencies = [("ingest", "0006_body_lz4")]

    operations = [migrations.RunPython(forwards, backwards)]
