"""On PostgreSQL a lineage walk is one call of the SQL function `catalog_lineage_walk`; elsewhere it
is the Python walk. Both must give the same answer: the same nodes at the same distances, the same
edges and the same `truncated`, whatever bound cuts the walk (depth, node limit, neighbours per node,
offset, edges per hop, as-of)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench import catalog as synthetic
from catalog import graph
from catalog.models import Asset, Workload
from orgs.services import create_org
from tests.events import at

# The SQL walk is PostgreSQL's: these run in the services run (`make test-services`) and are
# deselected in the SQLite one. No worker is needed: the history is normalized in-process.
pytestmark = [pytest.mark.django_db, pytest.mark.services, pytest.mark.eager]

BOUNDS = [
    {"direction": graph.BOTH, "depth": 1, "node_limit": 150, "per_node": 25},
    {"direction": graph.BOTH, "depth": 5, "node_limit": 150, "per_node": 25},
    {"direction": graph.BOTH, "depth": 4, "node_limit": 12, "per_node": 3, "offset": 2},
    {"direction": graph.UPSTREAM, "depth": 10, "node_limit": 2_001, "edges_per_hop": 100_000},
    {"direction": graph.DOWNSTREAM, "depth": 10, "node_limit": 2_001, "edges_per_hop": 100_000, "with_edges": False},
    {"direction": graph.DOWNSTREAM, "depth": 6, "node_limit": 25, "edges_per_hop": 4},
    {"direction": graph.BOTH, "depth": 3, "node_limit": 8},
    # One side, nodes only (impact analysis): the SQL walk reads only the edges that can fill the limit.
    {"direction": graph.DOWNSTREAM, "depth": 10, "node_limit": 40, "edges_per_hop": 100_000, "with_edges": False},
    {"direction": graph.UPSTREAM, "depth": 10, "node_limit": 7, "with_edges": False},
    {"direction": graph.DOWNSTREAM, "depth": 5, "node_limit": 30, "edges_per_hop": 20, "with_edges": False},
]


def both_ways(org, focus, **bounds):
    args = {"as_of": None, "per_node": None, "offset": 0, "edges_per_hop": None, "with_edges": True, **bounds}
    sql = graph._walk_sql(org, focus, **args)
    python = graph._walk_python(org, focus, **args)
    return (sql.hops, sql.edges, sql.truncated), (python.hops, python.edges, python.truncated)


def test_sql_and_python_walks_agree_on_the_hand_built_history(history):
    org = history.tenant.org
    nodes = [(graph.ASSET, pk) for pk in Asset.objects.in_org(org).values_list("id", flat=True)]
    nodes += [(graph.WORKLOAD, pk) for pk in Workload.objects.in_org(org).values_list("id", flat=True)]
    assert len(nodes) > 40
    for focus in nodes:
        for bounds in [*BOUNDS, {"direction": graph.BOTH, "depth": 3, "node_limit": 150, "per_node": 25,
                                 "as_of": datetime.fromisoformat(at(30))}]:
            sql, python = both_ways(org, focus, **bounds)
            assert sql == python, (focus, bounds)


def test_sql_and_python_walks_agree_on_a_synthetic_catalog_with_hubs():
    org, _ = create_org(slug="walks", name="Walks")
    synthetic.build(org, synthetic.Shape(assets=600, workloads=150, hubs=2, hub_readers=60, owners=5))
    rng = random.Random(3)
    assets = list(Asset.objects.in_org(org).order_by("id").values_list("id", flat=True))
    workloads = list(Workload.objects.in_org(org).order_by("id").values_list("id", flat=True))
    foci = [(graph.ASSET, assets[0]), (graph.ASSET, assets[len(assets) // 2])]
    foci += [(graph.ASSET, pk) for pk in rng.sample(assets, 12)] + [(graph.WORKLOAD, pk) for pk in rng.sample(workloads, 8)]
    half_year = timezone.now() - timedelta(days=180)
    for focus in foci:
        for bounds in [*BOUNDS, {"direction": graph.BOTH, "depth": 4, "node_limit": 60, "per_node": 5,
                                 "as_of": half_year}]:
            sql, python = both_ways(org, focus, **bounds)
            assert sql == python, (focus, bounds)


def test_the_sql_walk_never_leaves_the_organization(history):
    other, _ = create_org(slug="other-walks", name="Other")
    synthetic.build(other, synthetic.Shape(assets=100, workloads=30, hubs=1, hub_readers=10, owners=2))
    hub = (graph.ASSET, Asset.objects.in_org(other).order_by("id").values_list("id", flat=True).first())
    assert len(graph._walk_sql(other, hub, direction=graph.BOTH, depth=5, node_limit=150, as_of=None, per_node=25,
                               offset=0, edges_per_hop=None, with_edges=True).hops) > 10
    found = graph._walk_sql(history.tenant.org, hub, direction=graph.BOTH, depth=5, node_limit=150, as_of=None,
                            per_node=25, offset=0, edges_per_hop=None, with_edges=True)
    assert set(found.hops) == {hub} and not found.edges


def test_impact_rows_read_in_sql_are_the_python_rows(history):
    """The impact page query (join, filter, sort, window in PostgreSQL) answers what the Python
    path answers: the same rows in the same order, the same totals, page by page."""
    org = history.tenant.org
    for label, direction in (("FEAT", graph.DOWNSTREAM), ("HUB", graph.DOWNSTREAM), ("PRED", graph.UPSTREAM),
                             ("MODEL", graph.DOWNSTREAM), ("serve", graph.UPSTREAM)):
        kind, _, pk = history.node(label).partition(":")
        found = graph.walk(org, (kind, int(pk)), direction=direction, depth=10, node_limit=graph.IMPACT_DEFAULT_LIMIT + 1,
                           edges_per_hop=graph.IMPACT_EDGES_PER_HOP, with_edges=False)
        for filters in ({}, {"kind": "job"}, {"kind": "dataset"}, {"q": "fan-1"}, {"q": "S3://REPORTS"}, {"q": "churn v3"}):
            expected = graph._impact_listed(org, found, kind=filters.get("kind", ""), q=filters.get("q", "").lower())
            rows, _ = graph.impact_rows(org, (kind, int(pk)), direction=direction, depth=10, **filters,
                                        start=0, stop=4)
            assert rows.count() == len(expected), (label, filters)
            assert list(rows) == expected, (label, filters)
            for start in range(0, len(expected) + 4, 4):
                assert rows[start:start + 4] == expected[start:start + 4], (label, filters, start)
    assert any(r.name == "churn v3" for r in graph.impact(org, (kind, int(pk)), direction=graph.UPSTREAM, depth=2)[0])


def graph_in_two_steps(org, focus, *, direction, depth, limit, per_node=graph.PER_NODE_DEFAULT, offset=0,
                       as_of=None):
    """What catalog_lineage_graph answers, step by step: the Python walk, then each node's row and
    neighbour counts through the ORM."""
    walked = graph._walk_python(org, focus, direction=direction, depth=depth, node_limit=limit, as_of=as_of,
                                per_node=per_node, offset=offset, edges_per_hop=None, with_edges=True)
    rows = graph.load_nodes(org, walked.hops)
    counts = {ref: c for ref, c in graph.degree_counts(org, walked.hops, as_of=as_of).items() if ref in rows}
    return (walked.hops, walked.edges, walked.truncated), rows, counts


def graph_in_one_call(org, focus, **bounds):
    args = {"per_node": graph.PER_NODE_DEFAULT, "offset": 0, "as_of": None, **bounds}
    walked, rows, counts = graph._graph_sql(org, focus, **args)
    return (walked.hops, walked.edges, walked.truncated), rows, counts


GRAPH_BOUNDS = [
    {"direction": graph.BOTH, "depth": 1, "limit": 150},
    {"direction": graph.BOTH, "depth": 5, "limit": 150},
    {"direction": graph.DOWNSTREAM, "depth": 3, "limit": 12, "per_node": 3, "offset": 2},
    {"direction": graph.UPSTREAM, "depth": 10, "limit": 500, "per_node": 200},
]


def test_the_graph_in_one_call_is_the_walk_then_node_rows_and_counts(history):
    """catalog_lineage_graph (walk, node rows, counts: one call) answers what the generic path
    answers, with and without as-of; from another org's node it finds nothing (404)."""
    org = history.tenant.org
    nodes = [(graph.ASSET, pk) for pk in Asset.objects.in_org(org).values_list("id", flat=True)]
    nodes += [(graph.WORKLOAD, pk) for pk in Workload.objects.in_org(org).values_list("id", flat=True)]
    for focus in nodes:
        for bounds in [*GRAPH_BOUNDS, {"direction": graph.BOTH, "depth": 3, "limit": 150,
                                       "as_of": datetime.fromisoformat(at(30))}]:
            assert graph_in_one_call(org, focus, **bounds) == graph_in_two_steps(org, focus, **bounds), (focus, bounds)
    theirs = (graph.ASSET, Asset.objects.exclude(org=org).values_list("id", flat=True).first())
    with pytest.raises(Http404):
        graph._graph_sql(org, theirs, direction=graph.BOTH, depth=2, limit=150, per_node=25, offset=0, as_of=None)


def test_the_graph_in_one_call_counts_hubs_as_the_orm_does():
    org, _ = create_org(slug="graph-calls", name="Graph calls")
    synthetic.build(org, synthetic.Shape(assets=600, workloads=150, hubs=2, hub_readers=60, owners=5))
    assets = list(Asset.objects.in_org(org).order_by("id").values_list("id", flat=True))
    workloads = list(Workload.objects.in_org(org).order_by("id").values_list("id", flat=True))
    foci = [(graph.ASSET, assets[0]), (graph.ASSET, assets[len(assets) // 2])]
    foci += [(graph.ASSET, pk) for pk in random.Random(5).sample(assets, 6)]
    foci += [(graph.WORKLOAD, pk) for pk in random.Random(5).sample(workloads, 6)]
    half_year = timezone.now() - timedelta(days=180)
    for focus in foci:
        for bounds in [*GRAPH_BOUNDS, {"direction": graph.BOTH, "depth": 4, "limit": 60, "per_node": 5,
                                       "as_of": half_year}]:
            assert graph_in_one_call(org, focus, **bounds) == graph_in_two_steps(org, focus, **bounds), (focus, bounds)


def test_a_graph_request_is_session_user_and_one_call(history, member_client):
    """The org is looked up inside the graph's own statement; an org the user is not in is 404."""
    node = history.node("FEAT")
    with CaptureQueriesContext(connection) as queries:
        r = member_client.get("/api/v1/o/acme/graph/", {"node": node, "depth": 4})
    assert r.status_code == 200 and len(r.json()["nodes"]) > 5
    assert len(queries) == 3, [q["sql"][:120] for q in queries]
    r = member_client.get("/api/v1/o/globex/graph/", {"node": history.node("FEAT")})
    assert r.status_code == 404 and r.json() == {"detail": "No such organization"}
    r = member_client.get("/api/v1/o/acme/graph/", {"node": "asset:999999999"})
    assert r.status_code == 404 and r.json() == {"detail": "No such node"}


def test_an_impact_request_is_session_user_and_one_statement(history, member_client):
    """The walk and the org lookup run inside the impact page's statement; an org the user is not in
    is 404, as is a node of another org."""
    node = history.node("FEAT")
    with CaptureQueriesContext(connection) as queries:
        r = member_client.get("/api/v1/o/acme/impact/", {"node": node, "depth": 10, "per_page": 2})
    body = r.json()
    assert r.status_code == 200 and body["count"] > 2 and len(body["results"]) == 2 and body["truncated"] is False
    assert len(queries) == 3, [q["sql"][:120] for q in queries]
    assert member_client.get("/api/v1/o/acme/impact/", {"node": node, "limit": 2}).json()["truncated"] is True
    r = member_client.get("/api/v1/o/globex/impact/", {"node": node})
    assert r.status_code == 404 and r.json() == {"detail": "No such organization"}
    their_asset = Asset.objects.exclude(org=history.tenant.org).values_list("id", flat=True).first()
    r = member_client.get("/api/v1/o/acme/impact/", {"node": f"asset:{their_asset}"})
    assert r.status_code == 404 and r.json() == {"detail": "No such node"}
