"""Every node's neighbour counts are kept, not counted: `catalog_node_degree`, kept by triggers.

A graph request counted each shown node's workload-asset edges, up and down, on every request. A
workload next to three hub datasets counted their 15 000 edges (~0.75 ms of a ~1.2 ms call); the
counts were most of `catalog_lineage_graph`'s time after the walk. Now each node (asset id, or
-(workload id), as the walk names them) has one narrow row with its edges in and out, and the
function reads those rows by primary key; counts as of a past time (`as_of`) are still counted,
since they are not the current ones.

The table is kept by statement-level triggers on `catalog_workloadasset`, so every way edges are
written keeps it right without knowing of it: the normalizer's upserts (only the rows an upsert
inserts are in an INSERT trigger's transition table), the deletes of a workload's rebuilt edges,
cascades, `rebuild_catalog`, bulk COPY (bench, backfills) and TRUNCATE (Django's flush). Edges'
endpoints and direction never change after insert; if an UPDATE changes them anyway, a row trigger
moves the counts. Neither normalizer worker can race another on a node's row: writes of one
organization's edges hold its catalog lock (catalog.normalize), and nodes are one organization's.

PostgreSQL only, like the walk: SQLite counts (catalog.graph.degree_counts), which is what
tests/catalog/test_node_degree.py and test_walk_sql.py hold these rows to.
"""

from importlib import import_module

from django.db import migrations

# Per node (asset id, or -(workload id)), its edges in and out among a set of edges: {edges} is a
# trigger's transition table, or the whole table for the backfill.
COUNTS = """
    SELECT asset_id AS node, count(*) FILTER (WHERE direction = 'in') AS n_in,
           count(*) FILTER (WHERE direction = 'out') AS n_out FROM {edges} GROUP BY asset_id
    UNION ALL
    SELECT -workload_id, count(*) FILTER (WHERE direction = 'in'), count(*) FILTER (WHERE direction = 'out')
    FROM {edges} GROUP BY workload_id
"""

TABLE = r"""
CREATE TABLE catalog_node_degree (
    node bigint PRIMARY KEY,      -- asset id, or -(workload id)
    edges_in integer NOT NULL,    -- its workload-asset edges of direction 'in' (an asset's readers, a workload's inputs)
    edges_out integer NOT NULL    -- and 'out' (an asset's writers, a workload's outputs)
) WITH (fillfactor = 80);         -- count updates stay on their page (nothing indexed changes)
"""

BACKFILL = "INSERT INTO catalog_node_degree (node, edges_in, edges_out) " + COUNTS.format(edges="catalog_workloadasset")

TRIGGERS = r"""
CREATE FUNCTION catalog_node_degree_add() RETURNS trigger LANGUAGE plpgsql AS $add$
BEGIN
    -- In node order, so that two writers could not deadlock on the rows (none do: see the migration).
    INSERT INTO catalog_node_degree AS d (node, edges_in, edges_out)
    SELECT c.node, c.n_in, c.n_out FROM (""" + COUNTS.format(edges="added") + r""") c
    ORDER BY c.node
    ON CONFLICT (node) DO UPDATE SET edges_in = d.edges_in + excluded.edges_in,
                                     edges_out = d.edges_out + excluded.edges_out;
    RETURN NULL;
END
$add$;

CREATE FUNCTION catalog_node_degree_remove() RETURNS trigger LANGUAGE plpgsql AS $remove$
BEGIN
    UPDATE catalog_node_degree d SET edges_in = d.edges_in - c.n_in, edges_out = d.edges_out - c.n_out
    FROM (""" + COUNTS.format(edges="removed") + r""") c
    WHERE d.node = c.node;
    -- A node with no edges left has no row (as one that never had any): deleted nodes leave none.
    DELETE FROM catalog_node_degree d
    WHERE d.edges_in = 0 AND d.edges_out = 0
      AND d.node IN (SELECT asset_id FROM removed UNION SELECT -workload_id FROM removed);
    RETURN NULL;
END
$remove$;
CREATE FUNCTION catalog_node_degree_move() RETURNS trigger LANGUAGE plpgsql AS $move$
BEGIN
    UPDATE catalog_node_degree d
    SET edges_in = d.edges_in - (OLD.direction = 'in')::int, edges_out = d.edges_out - (OLD.direction = 'out')::int
    WHERE d.node IN (OLD.asset_id, -OLD.workload_id);
    INSERT INTO catalog_node_degree AS d (node, edges_in, edges_out)
    SELECT n, (NEW.direction = 'in')::int, (NEW.direction = 'out')::int
    FROM unnest(ARRAY[NEW.asset_id, -NEW.workload_id]) AS n ORDER BY n
    ON CONFLICT (node) DO UPDATE SET edges_in = d.edges_in + excluded.edges_in,
                                     edges_out = d.edges_out + excluded.edges_out;
    DELETE FROM catalog_node_degree d
    WHERE d.node IN (OLD.asset_id, -OLD.workload_id) AND d.edges_in = 0 AND d.edges_out = 0;
    RETURN NULL;
END
$move$;

CREATE FUNCTION catalog_node_degree_clear() RETURNS trigger LANGUAGE plpgsql AS $clear$
BEGIN
    TRUNCATE catalog_node_degree;
    RETURN NULL;
END
$clear$;

CREATE TRIGGER catalog_node_degree_insert AFTER INSERT ON catalog_workloadasset
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION catalog_node_degree_add();
CREATE TRIGGER catalog_node_degree_delete AFTER DELETE ON catalog_workloadasset
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION catalog_node_degree_remove();
CREATE TRIGGER catalog_node_degree_update AFTER UPDATE OF asset_id, workload_id, direction ON catalog_workloadasset
    FOR EACH ROW
    WHEN (OLD.asset_id <> NEW.asset_id OR OLD.workload_id <> NEW.workload_id OR OLD.direction <> NEW.direction)
    EXECUTE FUNCTION catalog_node_degree_move();
CREATE TRIGGER catalog_node_degree_truncate AFTER TRUNCATE ON catalog_workloadasset
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_node_degree_clear();
"""

# catalog_lineage_graph as in 0011, but the current counts are read, not counted.
_EXECUTE_COMMENT = """\
    -- Neighbour counts, planned for these very nodes (EXECUTE: a plan made with the values): a
    -- plan for any node sees ~2 edges per asset, and counts a hub's 5 000 through the wide index
    -- (~0.65 ms) instead of the narrow one (~0.25 ms); this one sees the hubs in the statistics.
"""
_COUNTED = _EXECUTE_COMMENT + "    EXECUTE $counts$"
_READ = """    -- Neighbour counts: the current ones are kept (catalog_node_degree, by primary key).
    IF p_as_of IS NULL THEN
        SELECT coalesce(array_agg(d.node), '{}'),
               coalesce(array_agg(CASE WHEN d.node > 0 THEN d.edges_out ELSE d.edges_in END), '{}'),
               coalesce(array_agg(CASE WHEN d.node > 0 THEN d.edges_in ELSE d.edges_out END), '{}')
        INTO v_counted, v_up, v_down
        FROM catalog_node_degree d WHERE d.node = ANY(w.nodes);
    ELSE
    -- As of a past time they are counted, from the edges first seen by then.
""" + _EXECUTE_COMMENT + "    EXECUTE $counts$"
_COUNTED_END = "          p_as_of;\n"


def graph_function() -> str:
    before = import_module("catalog.migrations.0011_lineage_graph_function").FUNCTION
    assert before.count(_COUNTED) == 1 and before.count(_COUNTED_END) == 1, "0011's function is not the one this edits"
    return before.replace(_COUNTED, _READ).replace(_COUNTED_END, _COUNTED_END + "    END IF;\n")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TABLE)
        # No edge written between the backfill and the triggers goes uncounted (held to the commit).
        schema_editor.execute("LOCK TABLE catalog_workloadasset IN SHARE MODE")
        schema_editor.execute(BACKFILL)
        schema_editor.execute("ANALYZE catalog_node_degree")
        schema_editor.execute(TRIGGERS)
        schema_editor.execute(graph_function())


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(import_module("catalog.migrations.0011_lineage_graph_function").FUNCTION)
        for name in ("insert", "delete", "update", "truncate"):
            schema_editor.execute(f"DROP TRIGGER catalog_node_degree_{name} ON catalog_workloadasset")
        for name in ("add", "remove", "move", "clear"):
            schema_editor.execute(f"DROP FUNCTION catalog_node_degree_{name}()")
        schema_editor.execute("DROP TABLE catalog_node_degree")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0016_type_index_ends_with_id")]

    operations = [migrations.RunPython(forwards, backwards)]
