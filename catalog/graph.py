"""Lineage queries over the workload <-> asset edge table: related items, the graph around a node,
and impact analysis (everything downstream, or upstream, N hops away).

Data flows workload --out--> asset --in--> workload. So, for an asset, upstream means the workloads
that wrote it (edges `out`) and downstream the workloads that read it (edges `in`); for a workload,
upstream means the assets it read and downstream the assets it wrote.

Traversal is breadth-first, one indexed lookup per hop and node type (never a scan of the edge
table): `(asset, direction, last seen)` serves asset frontiers, the unique `(workload, asset,
direction)` serves workload frontiers. Every walk is bounded three ways: a depth, a cap on nodes,
and, for the graph, a cap on neighbours shown per node (the rest is reported as "N more" and can be
paged with `offset`). A walk that hit any bound says so with `truncated`. Neighbours come in a fixed
order (frontier node id, then most recently seen first), so which nodes a bound cuts is defined.

On PostgreSQL the whole walk is one call of the SQL function `catalog_lineage_walk` (one recursive
statement, migration 0019), which does what `_walk_python` does step for step; elsewhere
`_walk_python` runs one query per hop. tests/catalog/test_walk_sql.py holds the two to the same answers.

Every query is scoped with `in_org`; a node of another organization is simply never reached.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Literal

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.fields.json import KT
from django.db.models.functions import RowNumber
from django.http import Http404
from django.urls import reverse

from catalog.models import Asset, AssetKind, Direction, Workload, WorkloadAsset
from orgs.models import Organization, org_for_request

ASSET, WORKLOAD = "asset", "workload"
UPSTREAM, DOWNSTREAM, BOTH = "upstream", "downstream", "both"
DIRECTIONS = (UPSTREAM, DOWNSTREAM, BOTH)

MAX_DEPTH = 10
GRAPH_DEFAULT_LIMIT, GRAPH_MAX_LIMIT = 150, 500
PER_NODE_DEFAULT, PER_NODE_MAX = 25, 200
IMPACT_DEFAULT_LIMIT, IMPACT_MAX_LIMIT = 2_000, 10_000
# One hop of an impact walk reads at most this many edges; more means the walk is truncated.
IMPACT_EDGES_PER_HOP = 100_000

NodeType = Literal["asset", "workload"]
NodeRef = tuple[str, int]


def node_key(ref: NodeRef) -> str:
    return f"{ref[0]}:{ref[1]}"


def parse_node(value: str) -> NodeRef:
    """`asset:12` or `workload:7` -> ("asset", 12); ValueError otherwise."""
    kind, _, pk = (value or "").partition(":")
    if kind not in (ASSET, WORKLOAD) or not pk.isdigit():
        raise ValueError("node must look like asset:<id> or workload:<id>")
    return kind, int(pk)


# --- One hop ---------------------------------------------------------------------------------------

# For a frontier node of a type, walking in a direction: which edge direction to follow, which
# column holds the frontier node, and which holds (and what type is) the neighbour.
_STEP = {
    (ASSET, UPSTREAM): (Direction.OUTPUT, "asset_id", "workload_id", WORKLOAD),
    (ASSET, DOWNSTREAM): (Direction.INPUT, "asset_id", "workload_id", WORKLOAD),
    (WORKLOAD, UPSTREAM): (Direction.INPUT, "workload_id", "asset_id", ASSET),
    (WORKLOAD, DOWNSTREAM): (Direction.OUTPUT, "workload_id", "asset_id", ASSET),
}


def _edges(org: Organization, as_of: datetime | None) -> QuerySet:
    qs = WorkloadAsset.objects.in_org(org)
    if as_of is not None:
        # Lineage as it was known then: an edge exists from its first sighting on.
        qs = qs.filter(first_seen_at__lte=as_of)
    return qs


def _chunks(items: list) -> Iterator[list]:
    """`IN (...)` lists inside the backend's parameter limit (SQLite: 999; PostgreSQL: none, but
    a few thousand ids per statement is plenty)."""
    size = min(connection.features.max_query_params or 5_000, 5_000) - 10
    for i in range(0, len(items), size):
        yield items[i:i + size]


def ranked_edges(org: Organization, own: str, other: str, ids: list[int], edge_dir: str, *,
                 as_of: datetime | None, per_node: int, offset: int) -> QuerySet:
    """(own, other, first_seen_at, degree) rows: each node's neighbours ranked most recently seen
    first, `offset` skipped, at most `per_node` kept, with the node's full neighbour count. One pass
    over the frontier nodes' own edges (bounded by their degree), through the index on `own`."""
    return _edges(org, as_of).filter(**{f"{own}__in": ids}, direction=edge_dir).annotate(
        rank=Window(RowNumber(), partition_by=[F(own)], order_by=[F("last_seen_at").desc(), F("id").desc()]),
        degree=Window(Count("id"), partition_by=[F(own)]),
    ).filter(rank__gt=offset, rank__lte=offset + per_node).values_list(own, other, "first_seen_at", "degree") \
        .order_by(own, "-last_seen_at", "-id")


@dataclass
class Hop:
    """Neighbours found from a frontier in one direction."""

    pairs: list[tuple[NodeRef, NodeRef, datetime]] = field(default_factory=list)  # (from, neighbour, first seen)
    degree: dict[NodeRef, int] = field(default_factory=dict)  # all neighbours of each frontier node
    capped: bool = False


def one_hop(org: Organization, frontier: Iterable[NodeRef], direction: str, *, as_of: datetime | None = None,
            per_node: int | None = None, offset: int = 0, max_rows: int | None = None) -> Hop:
    """Neighbours of the frontier nodes in one direction (upstream or downstream), by frontier node
    id, then most recently seen first.

    With `per_node`, each node contributes at most that many neighbours (after skipping `offset`);
    `degree` still counts them all. With `max_rows`, the whole hop reads at most that many edges.
    """
    hop = Hop()
    by_type: dict[str, list[int]] = defaultdict(list)
    for ref in frontier:
        by_type[ref[0]].append(ref[1])
    room = max_rows
    for node_type, ids in by_type.items():
        edge_dir, own, other, other_type = _STEP[(node_type, direction)]
        for chunk in _chunks(sorted(ids)):
            if hop.capped:
                break
            qs = _edges(org, as_of).filter(**{f"{own}__in": chunk}, direction=edge_dir)
            if per_node is None:
                rows = qs.values_list(own, other, "first_seen_at").order_by(own, "-last_seen_at", "-id")
                if room is not None:
                    rows = rows[:room + 1]
                rows = list(rows)
                if room is not None:
                    if len(rows) > room:
                        rows, hop.capped = rows[:room], True
                    room -= len(rows)
                for mine, theirs, seen in rows:
                    hop.pairs.append(((node_type, mine), (other_type, theirs), seen))
                continue
            ranked = ranked_edges(org, own, other, chunk, edge_dir, as_of=as_of, per_node=per_node, offset=offset)
            for mine, theirs, seen, degree in ranked:
                ref = (node_type, mine)
                hop.pairs.append((ref, (other_type, theirs), seen))
                hop.degree[ref] = degree
    return hop


def degree_counts(org: Organization, refs: Iterable[NodeRef], *, as_of: datetime | None = None) -> dict[NodeRef, dict]:
    """{node: {"upstream": n, "downstream": m}}: how many neighbours each node has either way."""
    counts: dict[NodeRef, dict] = {}
    by_type: dict[str, list[int]] = defaultdict(list)
    for ref in refs:
        by_type[ref[0]].append(ref[1])
        counts[ref] = {UPSTREAM: 0, DOWNSTREAM: 0}
    for node_type, ids in by_type.items():
        col = "asset_id" if node_type == ASSET else "workload_id"
        for chunk in _chunks(sorted(ids)):
            rows = (_edges(org, as_of).filter(**{f"{col}__in": chunk}).values_list(col, "direction")
                    .annotate(n=Count("id")).order_by())
            for pk, direction, n in rows:
                up = (direction == Direction.OUTPUT) == (node_type == ASSET)
                counts[(node_type, pk)][UPSTREAM if up else DOWNSTREAM] = n
    return counts


# --- Walks -----------------------------------------------------------------------------------------


@dataclass
class Walk:
    focus: NodeRef
    hops: dict[NodeRef, int]  # signed: upstream nodes negative, downstream positive
    edges: dict[tuple[NodeRef, NodeRef], datetime]  # (source, target) in the direction data flows
    truncated: bool = False


def walk(org: Organization, focus: NodeRef, *, direction: str, depth: int, node_limit: int,
         as_of: datetime | None = None, per_node: int | None = None, offset: int = 0,
         edges_per_hop: int | None = None, with_edges: bool = True) -> Walk:
    """Breadth-first from `focus`, upstream, downstream or both (each side walked on its own: `both`
    is the union of the upstream and downstream lineage, not every undirected path). Without
    `with_edges`, only the nodes and their distances (`edges` stays empty)."""
    walker = _walk_sql if connection.vendor == "postgresql" else _walk_python
    return walker(org, focus, direction=direction, depth=depth, node_limit=node_limit, as_of=as_of,
                  per_node=per_node, offset=offset, edges_per_hop=edges_per_hop, with_edges=with_edges)


def _signed(ref: NodeRef) -> int:
    return ref[1] if ref[0] == ASSET else -ref[1]


def _unsigned(node: int) -> NodeRef:
    return (ASSET, node) if node > 0 else (WORKLOAD, -node)


def _walk_sql(org: Organization, focus: NodeRef, *, direction: str, depth: int, node_limit: int,
              as_of: datetime | None, per_node: int | None, offset: int, edges_per_hop: int | None,
              with_edges: bool) -> Walk:
    sides = [UPSTREAM, DOWNSTREAM] if direction == BOTH else [direction]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM catalog_lineage_walk(%s::bigint, %s::bigint, %s::text[], %s::integer, %s::integer,"
            " %s::integer, %s::integer, %s::timestamptz, %s::integer, %s::boolean)",
            [org.pk, _signed(focus), sides, depth, node_limit, per_node, offset, as_of, edges_per_hop, with_edges])
        return _walk_of(focus, *cursor.fetchone())


def _walk_python(org: Organization, focus: NodeRef, *, direction: str, depth: int, node_limit: int,
                 as_of: datetime | None, per_node: int | None, offset: int, edges_per_hop: int | None,
              with_edges: bool) -> Walk:
    result = Walk(focus=focus, hops={focus: 0}, edges={})
    sides = (UPSTREAM, DOWNSTREAM) if direction == BOTH else (direction,)
    for side in sides:
        if len(result.hops) >= node_limit:
            result.truncated = True  # the other side filled the limit: this one is not walked
            break
        sign = -1 if side == UPSTREAM else 1
        frontier = [focus]
        seen_here = {focus}  # each side may revisit nodes the other side found (cycles)
        for distance in range(1, depth + 1):
            if not frontier:
                break
            hop = one_hop(org, frontier, side, as_of=as_of, per_node=per_node,
                          offset=offset if distance == 1 else 0, max_rows=edges_per_hop)
            result.truncated |= hop.capped
            if per_node is not None:
                shown = defaultdict(int)
                for mine, _, _ in hop.pairs:
                    shown[mine] += 1
                skipped = (offset if distance == 1 else 0)
                if any(hop.degree[ref] > skipped + n for ref, n in shown.items()):
                    result.truncated = True
            following = []
            for mine, theirs, seen in hop.pairs:
                if theirs not in result.hops:
                    if len(result.hops) >= node_limit:
                        result.truncated = True
                        continue
                    result.hops[theirs] = sign * distance
                if theirs not in seen_here:
                    seen_here.add(theirs)
                    following.append(theirs)
                if with_edges:
                    result.edges[(theirs, mine) if side == UPSTREAM else (mine, theirs)] = seen
            if len(result.hops) >= node_limit:
                # Full: walking further could only add edges between nodes already found. Whether
                # it would have found new ones is unknown, so a walk with hops left says it may be cut.
                result.truncated |= bool(following) and distance < depth
                break
            frontier = following
    return result


# --- Presenting nodes --------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _url_pattern(name: str, org_slug: str) -> str:
    # reverse() once per org and page kind, not once per node (10 000 nodes: ~0.2 s of reverse()).
    return reverse(name, kwargs={"org_slug": org_slug, "pk": 0}).replace("/0/", "/{}/")


@dataclass(frozen=True, slots=True)
class NodeRow:
    """What the graph and impact analysis show of a node (read with values_list: thousands of rows
    at the impact cap cost a fraction of full model instances)."""

    ref: NodeRef
    kind: str
    name: str
    label: str
    uri: str
    subtitle: str  # dataset type, or workload status
    created_by: str
    created_at: datetime

    @property
    def status(self) -> str:
        return self.subtitle if self.ref[0] == WORKLOAD else ""


def load_nodes(org: Organization, refs: Iterable[NodeRef]) -> dict[NodeRef, NodeRow]:
    """The rows behind node refs, two queries per few thousand (scoped: refs of another org are dropped)."""
    ids: dict[str, list[int]] = defaultdict(list)
    for kind, pk in refs:
        ids[kind].append(pk)
    rows: dict[NodeRef, NodeRow] = {}
    for chunk in _chunks(sorted(ids[ASSET])):
        assets = with_model_names(Asset.objects.in_org(org).filter(pk__in=chunk)).values_list(
            "id", "kind", "name", "uri", "dataset_type", "created_by", "created_at", "registered_name",
            "registered_version")
        for pk, kind, name, uri, dtype, by, at, reg_name, reg_version in assets:
            ref = (ASSET, pk)
            rows[ref] = NodeRow(ref, kind, name, label_for(kind, name, reg_name, reg_version), uri, dtype, by, at)
    for chunk in _chunks(sorted(ids[WORKLOAD])):
        workloads = Workload.objects.in_org(org).filter(pk__in=chunk).values_list(
            "id", "kind", "name", "external_id", "status", "owner_email", "created_at")
        for pk, kind, name, ext_id, status, owner, at in workloads:
            ref = (WORKLOAD, pk)
            rows[ref] = NodeRow(ref, kind, name or ext_id, name or ext_id, ext_id, status, owner, at)
    return rows


def nodes_and_counts(org: Organization, refs: Iterable[NodeRef], *, as_of: datetime | None = None,
                     counts: bool = True) -> tuple[dict[NodeRef, NodeRow], dict[NodeRef, dict]]:
    """load_nodes() and (with `counts`) degree_counts() of the same nodes (on PostgreSQL the graph
    reads both in its one call, catalog_lineage_graph)."""
    refs = list(refs)
    return load_nodes(org, refs), (degree_counts(org, refs, as_of=as_of) if counts else {})


def with_model_names(qs: QuerySet) -> QuerySet:
    """Annotate the registered model name and version (from the mlflowModel facet) without loading attrs."""
    return qs.annotate(registered_name=KT("attrs__facet:mlflowModel__registeredName"),
                       registered_version=KT("attrs__facet:mlflowModel__registeredVersion"))


def label_for(kind: str, name: str, registered_name, registered_version) -> str:
    """What to call an asset: a registered model by its name and version, else its name."""
    if kind == AssetKind.MODEL and isinstance(registered_name, str) and registered_name:
        return f"{registered_name} v{registered_version}" if registered_version not in (None, "") else registered_name
    return name


def asset_label(asset: Asset) -> str:
    """label_for() of a model instance: from `with_model_names` annotations, else from its facets."""
    if "registered_name" in asset.__dict__:
        return label_for(asset.kind, asset.name, asset.registered_name, asset.registered_version)
    facet = asset.facets.get("mlflowModel") if "attrs" in asset.__dict__ else None
    facet = facet if isinstance(facet, dict) else {}
    return label_for(asset.kind, asset.name, facet.get("registeredName"), facet.get("registeredVersion"))


def node_url(org: Organization, row: NodeRow) -> str:
    if row.ref[0] == WORKLOAD:
        name = "catalog:workload_detail"
    else:
        name = "catalog:model_detail" if row.kind == AssetKind.MODEL else "catalog:dataset_detail"
    return _url_pattern(name, org.slug).format(row.ref[1])


def node_payload(org: Organization, row: NodeRow) -> dict:
    return {"id": node_key(row.ref), "type": row.ref[0], "kind": row.kind, "name": row.name, "label": row.label,
            "uri": row.uri, "subtitle": row.subtitle, "created_by": row.created_by, "created_at": row.created_at,
            "url": node_url(org, row)}


@dataclass(frozen=True)
class RequestOrg:
    """The organization a request names by its slug, not looked up yet: on PostgreSQL the graph
    finds it inside its own statement (a subquery of `Organization.objects.for_user`, the same rule
    as `org_for_request`) instead of in a round trip of its own. Elsewhere, and to tell why nothing
    was found, `get()` is `org_for_request`."""

    user: object
    slug: str

    def get(self) -> Organization:
        return org_for_request(self.user, self.slug)

    def pk_sql(self) -> tuple[str, dict]:
        """`(SELECT id ...)` with named parameters (`%(org_0)s`, ...): the organization's id, NULL if
        the user may not see it."""
        qs = Organization.objects.for_user(self.user).filter(slug=self.slug).values("pk")[:1]
        try:
            sql, values = qs.query.get_compiler(using=qs.db).as_sql()
        except EmptyResultSet:  # for_user() of an anonymous user
            return "NULL", {}
        names = [f"org_{i}" for i in range(len(values))]
        # A slug and a user id compared for equality: no literal % in this SQL to escape.
        return "(" + sql % tuple(f"%({name})s" for name in names) + ")", dict(zip(names, values, strict=True))


def _org_sql(org: Organization | RequestOrg) -> tuple[str, dict]:
    """SQL for the organization's id with its named parameters: a parameter, or RequestOrg's subquery."""
    return org.pk_sql() if isinstance(org, RequestOrg) else ("%(org)s", {"org": org.pk})


def graph(org: Organization | RequestOrg, focus: NodeRef, *, direction: str = BOTH, depth: int = 1,
          as_of: datetime | None = None, limit: int = GRAPH_DEFAULT_LIMIT, per_node: int = PER_NODE_DEFAULT,
          offset: int = 0) -> dict:
    """The graph around a node: nodes (with their neighbour counts either way), edges, and whether
    any bound cut it short. 404 unless the focus is the organization's (and, given a RequestOrg,
    the organization the user's)."""
    if connection.vendor == "postgresql":
        found, rows, counts = _graph_sql(org, focus, direction=direction, depth=depth, as_of=as_of, limit=limit,
                                         per_node=per_node, offset=offset)
    else:
        if isinstance(org, RequestOrg):
            org = org.get()
        # Walked before the focus is checked: from another org's node the walk finds nothing (every
        # query is scoped), and the check then answers 404 without a query of its own.
        found = walk(org, focus, direction=direction, depth=depth, node_limit=limit, as_of=as_of,
                     per_node=per_node, offset=offset)
        rows, counts = nodes_and_counts(org, found.hops, as_of=as_of)
        if focus not in rows:
            raise Http404("No such node")
    nodes = []
    for ref, hop in found.hops.items():
        if ref in rows:
            nodes.append({**node_payload(org, rows[ref]), "hop": hop, "counts": counts[ref]})
    nodes.sort(key=lambda n: (n["hop"], n["type"], n["name"]))
    edges = [{"source": node_key(s), "target": node_key(t), "first_seen_at": seen}
             for (s, t), seen in sorted(found.edges.items())]
    totals = {UPSTREAM: sum(1 for h in found.hops.values() if h < 0),
              DOWNSTREAM: sum(1 for h in found.hops.values() if h > 0)}
    return {"focus": node_key(focus), "direction": direction, "depth": depth, "as_of": as_of, "limit": limit,
            "per_node": per_node, "offset": offset, "nodes": nodes, "edges": edges, "counts": totals,
            "truncated": found.truncated}


def _graph_sql(org: Organization | RequestOrg, focus: NodeRef, *, direction: str, depth: int,
               as_of: datetime | None, limit: int, per_node: int,
               offset: int) -> tuple[Walk, dict[NodeRef, NodeRow], dict[NodeRef, dict]]:
    """The walk, its nodes' rows and their neighbour counts: one call of `catalog_lineage_graph`
    (migration 0011), the organization looked up in the same statement."""
    org_sql, org_params = _org_sql(org)
    sides = [UPSTREAM, DOWNSTREAM] if direction == BOTH else [direction]
    with connection.cursor() as cursor:
        _native_timestamps(cursor)
        # org_sql is compiled by the ORM; every value in it is a parameter.
        cursor.execute(
            f"SELECT * FROM catalog_lineage_graph({org_sql}, %(focus)s::bigint, %(sides)s::text[],"  # noqa: S608
            " %(depth)s::integer, %(limit)s::integer, %(per_node)s::integer, %(offset)s::integer,"
            " %(as_of)s::timestamptz)",
            {**org_params, "focus": _signed(focus), "sides": sides, "depth": depth, "limit": limit,
             "per_node": per_node, "offset": offset, "as_of": as_of})
        got = cursor.fetchall()
    rows: dict[NodeRef, NodeRow] = {}
    counts: dict[NodeRef, dict] = {}
    found = None
    for node, kind, name, uri, subtitle, by, at, reg_name, reg_version, up, down, *walked in got:
        ref = _unsigned(node)
        label = label_for(kind, name, reg_name, reg_version) if ref[0] == ASSET else name
        rows[ref] = NodeRow(ref, kind, name, label, uri, subtitle, by, at)
        counts[ref] = {UPSTREAM: up, DOWNSTREAM: down}
        if ref == focus:
            found = _walk_of(focus, *walked)
    if found is None:
        if isinstance(org, RequestOrg):
            org.get()  # 404 "No such organization" if that is why (one query, on this path only)
        raise Http404("No such node")
    return found, rows, counts


def _native_timestamps(cursor) -> None:
    """Read timestamptz on this cursor with psycopg's own loader (C in psycopg[binary]) instead of
    Django's, which parses in Python: ~9 us a value, ~0.8 ms of a depth-5 graph's ~150 timestamps.
    The same instants: Django's loader only relabels them with the session's time zone, which its
    connection sets."""
    from psycopg import adapters, postgres, pq

    cursor.cursor.adapters.register_loader(
        "timestamptz", adapters.get_loader(postgres.types["timestamptz"].oid, pq.Format.TEXT))


def _walk_of(focus: NodeRef, nodes, hops, sources, targets, seen, truncated) -> Walk:
    """A Walk from catalog_lineage_walk's answer (signed node ids)."""
    return Walk(focus=focus, hops={_unsigned(n): h for n, h in zip(nodes, hops, strict=True)},
                edges={(_unsigned(s), _unsigned(t)): at for s, t, at in zip(sources, targets, seen, strict=True)},
                truncated=truncated)


# --- Impact analysis ---------------------------------------------------------------------------------

IMPACT_KINDS = ("dataset", "model", "job", "service", "workspace")


@dataclass
class ImpactRow:
    hop: int
    type: str
    kind: str
    name: str
    uri: str
    status: str
    created_by: str
    created_at: datetime
    url: str
    id: int


# The walk (one side, nodes only), then the impact rows of its nodes (hops made positive), filtered,
# sorted as the Python path sorts (hop, type, label by code point, id), one window of them, and their
# total; whether the focus is the org's; whether the walk was cut. One query: 2 000 rows are joined
# and sorted in the database, and only a page of them comes back (reading all of them into Python
# cost more than the walk). {org} is the organization's id, or a subquery finding it (RequestOrg).
_IMPACT_SQL = """
WITH o AS (SELECT {org}::bigint AS id),
w AS MATERIALIZED (
    SELECT w.* FROM o, catalog_lineage_walk(o.id, %(focus)s::bigint, %(sides)s::text[], %(depth)s::integer,
                                            %(node_limit)s::integer, NULL, 0, %(as_of)s::timestamptz,
                                            %(edges_per_hop)s::integer, false) w
    WHERE o.id IS NOT NULL
),
found AS (SELECT f.node, abs(f.hop) AS hop FROM w, unnest(w.nodes, w.hops) AS f(node, hop)),
all_rows AS MATERIALIZED (
    SELECT f.hop, 'asset' AS type, f.node AS id, a.kind, a.label, a.uri, '' AS status, a.created_by, a.created_at
    FROM found f
    CROSS JOIN LATERAL (
        SELECT a.kind, a.uri, a.created_by, a.created_at,
               CASE WHEN a.kind = 'model' AND coalesce(a.attrs #>> '{facet:mlflowModel,registeredName}', '') <> ''
                    THEN (a.attrs #>> '{facet:mlflowModel,registeredName}')
                         || coalesce(' v' || nullif(a.attrs #>> '{facet:mlflowModel,registeredVersion}', ''), '')
                    ELSE a.name END AS label
        FROM catalog_asset a WHERE a.id = f.node AND a.org_id = (SELECT id FROM o) LIMIT 1  -- one probe per node
    ) a
    WHERE f.node > 0
    UNION ALL
    SELECT f.hop, 'workload', -f.node, w.kind, coalesce(nullif(w.name, ''), w.external_id), w.external_id,
           w.status, w.owner_email, w.created_at
    FROM found f
    CROSS JOIN LATERAL (
        SELECT w.kind, w.name, w.external_id, w.status, w.owner_email, w.created_at
        FROM catalog_workload w WHERE w.id = -f.node AND w.org_id = (SELECT id FROM o) LIMIT 1
    ) w
    WHERE f.node < 0
),
shown AS MATERIALIZED (
    SELECT * FROM all_rows
    WHERE hop > 0 AND (%(kind)s = '' OR kind = %(kind)s)
      AND (%(q)s = '' OR strpos(lower(label), %(q)s) > 0 OR strpos(lower(uri), %(q)s) > 0)
)
SELECT t.total, t.focus, t.truncated, p.hop, p.type, p.id, p.kind, p.label, p.uri, p.status, p.created_by,
       p.created_at
FROM (SELECT (SELECT count(*) FROM shown) AS total, EXISTS (SELECT 1 FROM all_rows WHERE hop = 0) AS focus,
             (SELECT truncated FROM w) AS truncated) t
LEFT JOIN LATERAL (
    SELECT * FROM shown ORDER BY hop, type, label COLLATE "C", id OFFSET %(offset)s LIMIT %(limit)s
) p ON true
"""


class ImpactRows:
    """The impact rows of one walk, filtered and sorted, for a paginator (`count()` and slices).

    On PostgreSQL only the window asked for is read (one query joins, filters and sorts them all
    and returns that window and the total); the window the caller expects is read up front with the
    total, so a page costs one query. Elsewhere the rows are a list."""

    def __init__(self, fetch, start: int, stop: int | None):
        self._fetch = fetch
        self._start = start
        self.total, self._rows = fetch(start, stop)

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __iter__(self):
        return iter(self[0:None])

    def __getitem__(self, key: slice) -> list[ImpactRow]:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("impact rows are read by slices")
        start = key.start or 0
        stop = self.total if key.stop is None else min(key.stop, self.total)
        if start == self._start and stop - start <= len(self._rows):
            return self._rows[:max(stop - start, 0)]
        return self._fetch(start, None if key.stop is None else key.stop)[1]


def _impact_url(org: Organization, node_type: str, kind: str, pk: int) -> str:
    if node_type == WORKLOAD:
        name = "catalog:workload_detail"
    else:
        name = "catalog:model_detail" if kind == AssetKind.MODEL else "catalog:dataset_detail"
    return _url_pattern(name, org.slug).format(pk)


def impact_rows(org: Organization | RequestOrg, focus: NodeRef, *, direction: str = DOWNSTREAM, depth: int = 3,
                as_of: datetime | None = None, limit: int = IMPACT_DEFAULT_LIMIT, kind: str = "", q: str = "",
                start: int = 0, stop: int | None = None) -> tuple[ImpactRows, bool]:
    """Every workload and asset up to `depth` hops downstream (impact) or upstream (root cause) of
    the focus, with its distance in hops, nearest first, filtered by kind and name/URI; and whether a
    bound cut the walk short. `start`/`stop`: the window the caller will read first (a page).
    404 unless the focus is the organization's (and, given a RequestOrg, the organization the user's)."""
    if direction not in (UPSTREAM, DOWNSTREAM):
        raise ValueError("impact is downstream or upstream")
    q = q.strip().lower()
    if connection.vendor != "postgresql":
        if isinstance(org, RequestOrg):
            org = org.get()
        found = walk(org, focus, direction=direction, depth=depth, node_limit=limit + 1, as_of=as_of,
                     edges_per_hop=IMPACT_EDGES_PER_HOP, with_edges=False)
        listed = _impact_listed(org, found, kind=kind, q=q)
        return ImpactRows(lambda a, b: (len(listed), listed[a:b]), start, stop), found.truncated

    # The walk runs inside the page's statement: a window other than the first walks again (the
    # paginator reads the window it was given, so that is only an out-of-range page).
    org_sql, org_params = _org_sql(org)
    sql = _IMPACT_SQL.replace("{org}", org_sql)
    params = {**org_params, "focus": _signed(focus), "sides": [direction], "depth": depth, "node_limit": limit + 1,
              "as_of": as_of, "edges_per_hop": IMPACT_EDGES_PER_HOP, "kind": kind, "q": q}
    truncated = False

    def fetch(offset: int, end: int | None) -> tuple[int, list[ImpactRow]]:
        nonlocal truncated
        with connection.cursor() as cursor:
            cursor.execute(sql, {**params, "offset": offset, "limit": None if end is None else end - offset})
            got = cursor.fetchall()
        if not got[0][1]:
            if isinstance(org, RequestOrg):
                org.get()  # 404 "No such organization" if that is why (one query, on this path only)
            raise Http404("No such node")  # (walked first, as in graph())
        truncated = got[0][2]
        return got[0][0], [ImpactRow(hop=hop, type=typ, kind=k, name=label, uri=uri, status=status, created_by=by,
                                     created_at=at, url=_impact_url(org, typ, k, pk), id=pk)
                           for _, _, _, hop, typ, pk, k, label, uri, status, by, at in got if typ is not None]

    rows = ImpactRows(fetch, start, stop)
    return rows, truncated


def _impact_listed(org: Organization, found: Walk, *, kind: str, q: str) -> list[ImpactRow]:
    """What _IMPACT_SQL answers, in Python (other backends): every row, filtered and sorted."""
    rows, _ = nodes_and_counts(org, found.hops, counts=False)
    if rows.pop(found.focus, None) is None:
        raise Http404("No such node")  # (walked first, as in graph())
    listed = []
    for ref, row in rows.items():
        listed.append(ImpactRow(hop=abs(found.hops[ref]), type=ref[0], kind=row.kind, name=row.label,
                                uri=row.uri, status=row.status, created_by=row.created_by,
                                created_at=row.created_at, url=node_url(org, row), id=ref[1]))
    listed.sort(key=lambda r: (r.hop, r.type, r.name, r.id))
    return filter_impact(listed, kind=kind, q=q)


def impact(org: Organization, focus: NodeRef, *, direction: str = DOWNSTREAM, depth: int = 3,
           as_of: datetime | None = None, limit: int = IMPACT_DEFAULT_LIMIT, kind: str = "",
           q: str = "") -> tuple[list[ImpactRow], bool]:
    """impact_rows(), all of them as a list (the CSV export)."""
    rows, truncated = impact_rows(org, focus, direction=direction, depth=depth, as_of=as_of, limit=limit, kind=kind,
                                  q=q)
    return list(rows), truncated


def filter_impact(rows: list[ImpactRow], *, kind: str = "", q: str = "", max_hop: int | None = None) -> list[ImpactRow]:
    q = q.strip().lower()
    return [r for r in rows if (not kind or r.kind == kind) and (not q or q in r.name.lower() or q in r.uri.lower())
            and (max_hop is None or r.hop <= max_hop)]


# --- Related items (detail pages) -------------------------------------------------------------------


# Up to this many related ids are fetched and passed as a list; beyond, a subquery.
RELATED_INLINE = 1_000


def edge_members(edges: QuerySet, column: str) -> list[int] | QuerySet:
    """The ids at one end of some edges, for `pk__in=`.

    A subquery is the natural way, but lists sort newest first and stop at a page: with a subquery
    matching a handful of rows (or none), PostgreSQL walks the whole table by date looking for them
    (measured: 290 ms for an asset without producers among 50k workloads). So a few ids (read
    through the edge index) go in as a list, which turns into primary-key lookups; many ids are
    dense enough that walking by date finds a page at once.
    """
    ids = list(edges.values_list(column, flat=True).order_by()[:RELATED_INLINE + 1])
    if len(ids) <= RELATED_INLINE:
        return ids
    return edges.values(column)


def related_workloads(org: Organization, asset: Asset, side: str) -> QuerySet:
    """Workloads that produced (upstream) or consumed (downstream) the asset."""
    edge_dir = Direction.OUTPUT if side == UPSTREAM else Direction.INPUT
    edges = WorkloadAsset.objects.in_org(org).filter(asset=asset, direction=edge_dir)
    return Workload.objects.in_org(org).filter(pk__in=edge_members(edges, "workload_id"))


def related_assets(org: Organization, workload: Workload, side: str) -> QuerySet:
    """Assets the workload read (upstream) or wrote (downstream)."""
    edge_dir = Direction.INPUT if side == UPSTREAM else Direction.OUTPUT
    edges = WorkloadAsset.objects.in_org(org).filter(workload=workload, direction=edge_dir)
    return Asset.objects.in_org(org).filter(pk__in=edge_members(edges, "asset_id"))


def assets_named(org: Organization, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Asset]:
    """Assets by (namespace, name), for linking the inputs a columnLineage facet names."""
    wanted = list(dict.fromkeys(pairs))[:100]
    if not wanted:
        return {}
    cond = Q()
    for ns, name in wanted:
        cond |= Q(namespace=ns, name=name)
    return {(a.namespace, a.name): a for a in Asset.objects.in_org(org).filter(cond).only("id", "kind", "namespace", "name", "uri")}
