"""`catalog_lineage_graph()`: the graph endpoint's walk, node rows and neighbour counts in one call.

A graph request was two statements after the session, user and organization lookups: the walk
(`catalog_lineage_walk`) and the node rows with their counts, which PostgreSQL planned afresh every
time (~0.3 ms). Here both are one call, whose plans are cached per session, and the organization
comes in as an argument the caller computes in the same statement (NULL: not the user's; no rows).

Neighbour counts were the larger part of the work: a workload near three hub datasets counted their
15 000 edges through the wide `(asset, direction, last_seen_at, id) INCLUDE (...)` index (~0.7 ms per
hub). An asset's edges are now counted in the narrow `(asset)` index, whose duplicates are posting
lists (~0.25 ms per hub), and its writers through the wide one (few: writers of a hub are not its
readers), readers being the difference; a workload's through the unique `(workload, asset,
direction)` index, index-only. With `as_of` every count reads `first_seen_at` from the wide index
(assets) or the table (workloads), as before. Edges are not filtered by organization here: the node
was found in the organization, and an edge joins a workload and an asset of its own organization.

The focus node's row carries the walk itself (nodes, hops, edges, `truncated`); no focus row means
no such node in this organization (or no such organization). catalog.graph.graph() reads it;
tests/catalog/test_walk_sql.py holds it to the generic path (walk, load_nodes, degree_counts).
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION catalog_lineage_graph(
    p_org bigint,                -- NULL: the organization is not the user's (no rows)
    p_focus bigint,              -- asset id, or -(workload id)
    p_sides text[],
    p_depth integer,
    p_node_limit integer,
    p_per_node integer,
    p_offset integer,
    p_as_of timestamptz)
RETURNS TABLE (
    node bigint, kind text, name text, uri text, subtitle text, created_by text, created_at timestamptz,
    reg_name text, reg_version text, up bigint, down bigint,
    -- on the focus node's row only: the walk (catalog_lineage_walk's answer)
    walk_nodes bigint[], walk_hops integer[], sources bigint[], targets bigint[], first_seen timestamptz[],
    truncated boolean)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $graph$
DECLARE
    w record;
    v_counted bigint[];
    v_up bigint[];
    v_down bigint[];
BEGIN
    IF p_org IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO w FROM catalog_lineage_walk(p_org, p_focus, p_sides, p_depth, p_node_limit, p_per_node,
                                              p_offset, p_as_of, NULL, true);
    -- Neighbour counts, planned for these very nodes (EXECUTE: a plan made with the values): a
    -- plan for any node sees ~2 edges per asset, and counts a hub's 5 000 through the wide index
    -- (~0.65 ms) instead of the narrow one (~0.25 ms); this one sees the hubs in the statistics.
    EXECUTE $counts$
        SELECT coalesce(array_agg(node), '{}'), coalesce(array_agg(up), '{}'), coalesce(array_agg(down), '{}')
        FROM (
            SELECT t.asset_id AS node, coalesce(o.n, 0) AS up, t.n - coalesce(o.n, 0) AS down
            FROM (SELECT asset_id, count(*) AS n FROM catalog_workloadasset
                  WHERE asset_id = ANY($1) AND ($3::timestamptz IS NULL OR first_seen_at <= $3)
                  GROUP BY asset_id) t
            LEFT JOIN (SELECT asset_id, count(*) AS n FROM catalog_workloadasset
                       WHERE asset_id = ANY($1) AND direction = 'out'
                         AND ($3::timestamptz IS NULL OR first_seen_at <= $3)
                       GROUP BY asset_id) o USING (asset_id)
            UNION ALL
            SELECT -workload_id, count(*) FILTER (WHERE direction = 'in'), count(*) FILTER (WHERE direction = 'out')
            FROM catalog_workloadasset
            WHERE workload_id = ANY($2) AND ($3::timestamptz IS NULL OR first_seen_at <= $3)
            GROUP BY workload_id
        ) c
    $counts$
    INTO v_counted, v_up, v_down
    USING ARRAY(SELECT n FROM unnest(w.nodes) AS n WHERE n > 0), ARRAY(SELECT -n FROM unnest(w.nodes) AS n WHERE n < 0),
          p_as_of;
    -- One primary-key probe per node (LIMIT 1: else the planner may hash the whole table to find a
    -- few of its rows).
    RETURN QUERY
    WITH counted AS (SELECT * FROM unnest(v_counted, v_up, v_down) AS c(node, up, down))
    SELECT n.node, a.kind::text, a.name::text, a.uri::text, a.dataset_type::text, a.created_by::text, a.created_at,
           a.reg_name, a.reg_version, coalesce(c.up, 0), coalesce(c.down, 0),
           CASE WHEN n.node = p_focus THEN w.nodes END, CASE WHEN n.node = p_focus THEN w.hops END,
           CASE WHEN n.node = p_focus THEN w.sources END, CASE WHEN n.node = p_focus THEN w.targets END,
           CASE WHEN n.node = p_focus THEN w.first_seen END, CASE WHEN n.node = p_focus THEN w.truncated END
    FROM unnest(w.nodes) AS n(node)
    CROSS JOIN LATERAL (
        SELECT a.kind, a.name, a.uri, a.dataset_type, a.created_by, a.created_at,
               a.attrs #>> '{facet:mlflowModel,registeredName}' AS reg_name,
               a.attrs #>> '{facet:mlflowModel,registeredVersion}' AS reg_version
        FROM catalog_asset a WHERE a.id = n.node AND a.org_id = p_org LIMIT 1
    ) a
    LEFT JOIN counted c ON c.node = n.node
    WHERE n.node > 0
    UNION ALL
    SELECT n.node, w2.kind::text, coalesce(nullif(w2.name, ''), w2.external_id)::text, w2.external_id::text,
           w2.status::text, w2.owner_email::text, w2.created_at, NULL, NULL, coalesce(c.up, 0), coalesce(c.down, 0),
           CASE WHEN n.node = p_focus THEN w.nodes END, CASE WHEN n.node = p_focus THEN w.hops END,
           CASE WHEN n.node = p_focus THEN w.sources END, CASE WHEN n.node = p_focus THEN w.targets END,
           CASE WHEN n.node = p_focus THEN w.first_seen END, CASE WHEN n.node = p_focus THEN w.truncated END
    FROM unnest(w.nodes) AS n(node)
    CROSS JOIN LATERAL (
        SELECT w2.kind, w2.name, w2.external_id, w2.status, w2.owner_email, w2.created_at
        FROM catalog_workload w2 WHERE w2.id = -n.node AND w2.org_id = p_org LIMIT 1
    ) w2
    LEFT JOIN counted c ON c.node = n.node
    WHERE n.node < 0;
END
$graph$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS catalog_lineage_graph(bigint, bigint, text[], integer, integer,"
                              " integer, integer, timestamptz)")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0010_list_order_indexes_include_cloud_project")]

    operations = [migrations.RunPython(forwards, backwards)]
