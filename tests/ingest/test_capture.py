"""DESIGN.md's capture rules: the toggle as it was when the cluster started, and the tracked mounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from catalog.models import Asset
from clouds.services import set_cloud_lineage
from ingest.models import DropCount, RawEvent
from tests.conftest import make_tenant, post_event
from tests.events import dataset, rid, run_event, workload

pytestmark = pytest.mark.django_db


def iso(dt):
    return dt.isoformat().replace("+00:00", "Z")


@pytest.fixture
def off_tenant(db):
    """A tenant whose toggles have never been switched on."""
    return make_tenant("initech", toggle_on_since=None)


def emit(tenant, *, cluster, started=None, run="r", outputs=None, parent=None, facet=True):
    now = timezone.now()
    event = run_event(
        "START", f"{cluster}-{run}", time=iso(now),
        workload_facet=workload("wl-1", cluster=cluster, started=iso(started) if started else None) if facet else None,
        outputs=outputs or [dataset("s3://bucket", f"{cluster}/{run}")], parent=parent,
    )
    return post_event(Client(), tenant.key, event)


def toggle(tenant, enabled, ago):
    set_cloud_lineage(cloud=tenant.cloud, enabled=enabled, at=timezone.now() - ago)


def test_never_switched_on_drops(off_tenant):
    r = emit(off_tenant, cluster="c1", started=timezone.now() - timedelta(minutes=5))
    assert r.status_code == 200 and r.json()["status"] == "dropped"
    assert "lineage tracking was off" in r.json()["detail"]
    assert RawEvent.objects.count() == 0
    assert DropCount.objects.get(cloud=off_tenant.cloud).count == 1


def test_toggle_on_after_cluster_started_is_dropped(off_tenant):
    toggle(off_tenant, True, timedelta(minutes=10))
    r = emit(off_tenant, cluster="c1", started=timezone.now() - timedelta(hours=1))
    assert r.json()["status"] == "dropped"


def test_cluster_started_after_toggle_on_is_captured(off_tenant):
    toggle(off_tenant, True, timedelta(hours=1))
    r = emit(off_tenant, cluster="c1", started=timezone.now() - timedelta(minutes=10))
    assert r.status_code == 201


def test_toggle_off_while_cluster_runs_keeps_capturing(off_tenant):
    toggle(off_tenant, True, timedelta(hours=2))
    started = timezone.now() - timedelta(hours=1)
    toggle(off_tenant, False, timedelta(minutes=30))
    assert emit(off_tenant, cluster="c1", started=started).status_code == 201
    # ...but a cluster started after the toggle went off is not captured.
    assert emit(off_tenant, cluster="c2", started=timezone.now() - timedelta(minutes=5)).json()["status"] == "dropped"


def test_without_start_time_the_first_sighting_of_the_cluster_decides(off_tenant):
    assert emit(off_tenant, cluster="c1", run="a").json()["status"] == "dropped"  # first seen while off
    toggle(off_tenant, True, timedelta(seconds=0))
    # The same cluster is still the one that started while off...
    assert emit(off_tenant, cluster="c1", run="b").json()["status"] == "dropped"
    # ...a new one is captured.
    assert emit(off_tenant, cluster="c2", run="a").status_code == 201
    set_cloud_lineage(cloud=off_tenant.cloud, enabled=False)
    assert emit(off_tenant, cluster="c2", run="c").status_code == 201  # c2 started while on


def test_events_without_workload_facet_use_their_root_run(off_tenant):
    toggle(off_tenant, True, timedelta(hours=1))
    parent = {"run": {"runId": rid("dag-run-1")}, "job": {"namespace": "airflow", "name": "dag"}}
    r = emit(off_tenant, cluster="task1", facet=False, parent=parent)
    assert r.status_code == 201
    raw = RawEvent.objects.get()
    assert raw.kind == "run"


def test_another_cloud_has_its_own_toggle(off_tenant):
    toggle(off_tenant, True, timedelta(hours=1))
    other = run_event("START", "x", workload_facet=workload("wl-2", cluster="c9"), time=iso(timezone.now()))
    assert post_event(Client(), off_tenant.other_key, other).json()["status"] == "dropped"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/mnt/cluster_storage/features/part-0.parquet", ("file://wl-1", "/mnt/cluster_storage/features/part-0.parquet")),
        ("/mnt/shared_storage/raw/images", ("file://{cloud}", "/mnt/shared_storage/raw/images")),
        ("/mnt/cluster_storage/../../etc/passwd", None),
        ("/tmp/scratch.csv", None),
        ("/home/ray/data.csv", None),
        ("relative/path.csv", None),
    ],
)
def test_local_paths_are_tracked_only_under_the_mounts(tenant, name, expected):
    event = run_event("COMPLETE", "p", workload_facet=workload("wl-1"),
                      outputs=[dataset("file", name), dataset("s3://bucket", "always/kept")])
    assert post_event(Client(), tenant.key, event).status_code == 201
    names = set(Asset.objects.values_list("namespace", "name"))
    assert ("s3://bucket", "always/kept") in names
    if expected is None:
        assert len(names) == 1
    else:
        ns, path = expected
        assert (ns.format(cloud=tenant.cloud.public_id), path) in names
    # The raw event is kept as received either way.
    assert name in RawEvent.objects.get().body
