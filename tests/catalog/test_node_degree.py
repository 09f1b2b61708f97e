"""On PostgreSQL each node's neighbour counts are kept in `catalog_node_degree` by triggers on the
workload-asset edges (catalog migration 0017), and the graph reads them instead of counting. Every
way edges are written, moved or removed must leave the kept counts equal to counting the edges."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from bench import catalog as synthetic
from catalog.models import Asset, Direction, Workload, WorkloadAsset
from orgs.services import create_org
from tests.catalog.test_normalize import history, post_all, wl
from tests.events import at, dataset, run_event

pytestmark = [pytest.mark.django_db, pytest.mark.services, pytest.mark.eager]  # PostgreSQL only

COUNTED = """
    SELECT node, sum(n_in), sum(n_out) FROM (
        SELECT asset_id AS node, count(*) FILTER (WHERE direction = 'in') AS n_in,
               count(*) FILTER (WHERE direction = 'out') AS n_out FROM catalog_workloadasset GROUP BY asset_id
        UNION ALL
        SELECT -workload_id, count(*) FILTER (WHERE direction = 'in'), count(*) FILTER (WHERE direction = 'out')
        FROM catalog_workloadasset GROUP BY workload_id) c
    GROUP BY node
"""


def kept_and_counted() -> tuple[dict, dict]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT node, edges_in, edges_out FROM catalog_node_degree")
        kept = {node: (n_in, n_out) for node, n_in, n_out in cursor.fetchall()}
        cursor.execute(COUNTED)
        counted = {node: (n_in, n_out) for node, n_in, n_out in cursor.fetchall()}
    return kept, counted


def assert_kept_right() -> dict:
    kept, counted = kept_and_counted()
    assert kept == counted
    return kept


def test_normalizing_moving_runs_and_rebuilding_keep_the_counts(tenant):
    post_all(tenant, history())
    kept = assert_kept_right()
    assert len(kept) > 5

    # A run first guessed to be the job's workload moves to the one a later event names: the guess's
    # edges are deleted, the real workload's inserted.
    complete = run_event("COMPLETE", "late", job=("ns", "step"), time=at(9),
                         outputs=[dataset("s3://b", "k"), dataset("s3://b", "k2")])
    post_all(tenant, [complete])
    guess = Workload.objects.get(external_id="ns/step")
    assert -guess.pk in assert_kept_right()
    post_all(tenant, [run_event("START", "late", job=("ns", "step"), time=at(0), workload_facet=wl("w-real"))])
    kept = assert_kept_right()
    assert -guess.pk not in kept  # the guess is gone, and so is its row
    assert kept[-Workload.objects.get(external_id="w-real").pk] == (0, 2)

    call_command("rebuild_catalog", "acme", stdout=open("/dev/null", "w"))  # everything deleted, then again
    assert len(assert_kept_right()) == len(kept)


def test_bulk_copies_updates_deletes_and_truncate_keep_the_counts(tenant):
    org, _ = create_org(slug="degrees", name="Degrees")
    synthetic.build(org, synthetic.Shape(assets=400, workloads=100, hubs=2, hub_readers=40, owners=4))  # COPY
    assert_kept_right()

    # Edges' ends do not change in the product, but if an UPDATE changes them the counts follow.
    edge = WorkloadAsset.objects.in_org(org).filter(direction=Direction.INPUT).order_by("id").first()
    edge.direction = Direction.OUTPUT
    edge.save()
    elsewhere = Asset.objects.in_org(org).exclude(workload_edges__workload_id=edge.workload_id).order_by("id").first()
    WorkloadAsset.objects.filter(pk=edge.pk).update(asset_id=elsewhere.pk, direction=Direction.INPUT)
    WorkloadAsset.objects.in_org(org).update(last_seen_at=edge.last_seen_at)  # no end changed
    assert_kept_right()

    hub = Asset.objects.in_org(org).order_by("id").first()  # read by 40 workloads
    kept = assert_kept_right()
    assert kept[hub.pk][0] >= 40
    Workload.objects.in_org(org).order_by("id")[0].delete()  # their edges go by cascade
    hub.delete()
    kept = assert_kept_right()
    assert hub.pk not in kept
    post_all(tenant, history())
    assert len(assert_kept_right()) > len(kept)

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as after a commit: nothing deferred is pending
        cursor.execute("TRUNCATE catalog_workloadasset, catalog_runasset")  # as Django's flush does
    assert kept_and_counted() == ({}, {})
