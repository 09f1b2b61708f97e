"""`catalog_lineage_walk()` reads no more of a frontier node's edges than can change the answer.

Impact analysis walks one side, nodes only, without a per-node cap: its first hop from a hub read
all 5 000 readers in order to keep 2 000. It now reads at most room + |nodes| + 1 edges of each
frontier node (see the comment in the function); the answer is the same (nodes, hops, `truncated`),
which tests/catalog/test_walk_sql.py checks against the Python walk. Otherwise as in 0007.
"""

from importlib import import_module

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION catalog_lineage_walk(
    p_org bigint,
    p_focus bigint,              -- asset id, or -(workload id)
    p_sides text[],              -- 'upstream' and/or 'downstream', walked in this order
    p_depth integer,
    p_node_limit integer,        -- nodes found, the focus included
    p_per_node integer,          -- neighbours followed per node and hop; NULL: all
    p_offset integer,            -- the focus's neighbours skipped (first hop only)
    p_as_of timestamptz,         -- edges first seen after it do not exist; NULL: all
    p_edges_per_hop integer,     -- edges one hop may read; NULL: all
    p_with_edges boolean,        -- false: nodes only (sources, targets, first_seen stay empty)
    OUT nodes bigint[],          -- every node found ...
    OUT hops integer[],          -- ... and its distance (negative upstream)
    OUT sources bigint[],        -- edges between them, in the direction data flows
    OUT targets bigint[],
    OUT first_seen timestamptz[],
    OUT truncated boolean)
LANGUAGE plpgsql STABLE
-- One plan per session for the hop statement, whatever the parameters: planning it (~0.5 ms) would
-- cost more than running it (a few index probes) on every hop.
SET plan_cache_mode = force_generic_plan
AS $walk$
DECLARE
    v_side text;
    v_sign integer;
    v_frontier bigint[];
    v_here bigint[];             -- nodes this side reached (a side may revisit the other's)
    v_dir text;
    v_skip integer;
    v_room integer;
    v_take integer;              -- edges read per frontier node (see below); NULL: all
    v_new bigint[];
    v_following bigint[];
    v_src bigint[];
    v_dst bigint[];
    v_seen timestamptz[];
    v_more boolean;
    v_capped boolean;
    v_cut boolean;
BEGIN
    nodes := ARRAY[p_focus];
    hops := ARRAY[0];
    sources := '{}';
    targets := '{}';
    first_seen := '{}';
    truncated := false;
    FOREACH v_side IN ARRAY p_sides LOOP
        IF cardinality(nodes) >= p_node_limit THEN
            truncated := true;  -- the other side filled the limit: this one is not walked
            EXIT;
        END IF;
        v_sign := CASE WHEN v_side = 'upstream' THEN -1 ELSE 1 END;
        v_frontier := ARRAY[p_focus];
        v_here := ARRAY[p_focus];
        FOR v_distance IN 1..p_depth LOOP
            EXIT WHEN cardinality(v_frontier) = 0;
            -- Data flows workload -out-> asset -in-> workload (see catalog.graph._STEP).
            v_dir := CASE WHEN (v_frontier[1] > 0) = (v_side = 'upstream') THEN 'out' ELSE 'in' END;
            v_skip := CASE WHEN v_distance = 1 THEN p_offset ELSE 0 END;
            v_room := p_node_limit - cardinality(nodes);
            -- With a per-node cap: one more than shown, to know whether a node has more. A one-sided
            -- walk of nodes only (impact analysis) needs no more of a node's edges than would fill
            -- the room left: of its first room + |nodes| + 1 neighbours (distinct: an edge is unique
            -- per pair), at least room + 1 are new, so every edge after them would only be cut (and
            -- the walk is truncated either way). From a hub read by 5 000 workloads with room for
            -- 2 000, that reads 2 002 of its edges, not 5 000.
            v_take := CASE WHEN p_per_node IS NOT NULL THEN p_per_node + 1
                           WHEN NOT p_with_edges AND cardinality(p_sides) = 1 THEN v_room + cardinality(nodes) + 1
                      END;
            WITH pairs AS MATERIALIZED (
                -- Each frontier node's edges most recently seen first (one more than shown, to know
                -- whether it has more), frontier nodes in id order: `ord` sorts them so.
                SELECT (f.i << 32) + x.rnk AS ord, f.node AS mine, x.theirs, x.seen, x.rnk
                FROM unnest(v_frontier) WITH ORDINALITY AS f(node, i)
                CROSS JOIN LATERAL (
                    (SELECT -e.workload_id AS theirs, e.first_seen_at AS seen,
                            row_number() OVER (ORDER BY e.last_seen_at DESC, e.id DESC) AS rnk
                     FROM catalog_workloadasset e
                     WHERE f.node > 0 AND e.asset_id = f.node AND e.direction = v_dir AND e.org_id = p_org
                       AND (p_as_of IS NULL OR e.first_seen_at <= p_as_of)
                     ORDER BY e.last_seen_at DESC, e.id DESC
                     OFFSET v_skip LIMIT v_take)
                    UNION ALL
                    (SELECT e.asset_id, e.first_seen_at,
                            row_number() OVER (ORDER BY e.last_seen_at DESC, e.id DESC)
                     FROM catalog_workloadasset e
                     WHERE f.node < 0 AND e.workload_id = -f.node AND e.direction = v_dir AND e.org_id = p_org
                       AND (p_as_of IS NULL OR e.first_seen_at <= p_as_of)
                     ORDER BY e.last_seen_at DESC, e.id DESC
                     OFFSET v_skip LIMIT v_take)
                ) x
                ORDER BY 1
                LIMIT p_edges_per_hop + 1
            ),
            stats AS MATERIALIZED (
                SELECT coalesce(count(*) > p_edges_per_hop, false) AS capped, max(ord) AS last_ord,
                       coalesce(bool_or(rnk > v_skip + p_per_node), false) AS more
                FROM pairs
            ),
            kept AS MATERIALIZED (  -- the edges this hop follows
                SELECT p.* FROM pairs p, stats s
                WHERE (p_per_node IS NULL OR p.rnk <= v_skip + p_per_node)
                  AND NOT (s.capped AND p.ord = s.last_ord)
            ),
            neighbours AS MATERIALIZED (  -- each once: where it first appears, whether the walk has it
                SELECT theirs, min(ord) AS first_ord, theirs IN (SELECT unnest(nodes)) AS known
                FROM kept GROUP BY theirs
            ),
            placed AS MATERIALIZED (  -- new ones join the walk in order while there is room
                SELECT theirs, first_ord, known,
                       known OR row_number() OVER (PARTITION BY known ORDER BY first_ord) <= v_room AS inside
                FROM neighbours
            ),
            shown AS (  -- edges to nodes the walk has (not to those the limit left out)
                SELECT array_agg(CASE WHEN v_sign < 0 THEN k.theirs ELSE k.mine END) AS src,
                       array_agg(CASE WHEN v_sign < 0 THEN k.mine ELSE k.theirs END) AS dst,
                       array_agg(k.seen) AS seen
                FROM kept k JOIN placed p ON p.theirs = k.theirs
                WHERE p_with_edges AND p.inside
            )
            SELECT s.more, s.capped,
                   EXISTS (SELECT 1 FROM placed WHERE NOT inside),
                   (SELECT coalesce(array_agg(theirs ORDER BY first_ord), '{}') FROM placed
                    WHERE inside AND NOT known),
                   (SELECT coalesce(array_agg(theirs ORDER BY abs(theirs)), '{}') FROM placed
                    WHERE inside AND theirs NOT IN (SELECT unnest(v_here))),
                   coalesce(e.src, '{}'), coalesce(e.dst, '{}'), coalesce(e.seen, '{}')
            FROM stats s, shown e
            INTO v_more, v_capped, v_cut, v_new, v_following, v_src, v_dst, v_seen;
            truncated := truncated OR v_more OR v_capped OR v_cut;
            nodes := nodes || v_new;
            hops := hops || array_fill(v_sign * v_distance, ARRAY[cardinality(v_new)]);
            sources := sources || v_src;
            targets := targets || v_dst;
            first_seen := first_seen || v_seen;
            v_here := v_here || v_following;
            IF cardinality(nodes) >= p_node_limit THEN
                -- Full: walking further could only add edges between nodes already found. Whether
                -- it would have found new ones is unknown, so a walk with hops left says it may be cut.
                truncated := truncated OR (cardinality(v_following) > 0 AND v_distance < p_depth);
                EXIT;
            END IF;
            v_frontier := v_following;
        END LOOP;
    END LOOP;
END
$walk$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(import_module("catalog.migrations.0007_lineage_walk_function").FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0008_list_order_indexes_end_with_id")]

    operations = [migrations.RunPython(forwards, backwards)]
