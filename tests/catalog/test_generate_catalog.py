"""`manage.py generate_catalog` (the large synthetic catalog the speed figures come from) keeps working."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from catalog.models import Asset, Workload, WorkloadAsset

pytestmark = pytest.mark.django_db


def test_generate_a_small_catalog_and_measure_it():
    out = io.StringIO()
    call_command("generate_catalog", "--org", "tinyco", "--assets", "300", "--workloads", "60", "--hubs", "2",
                 "--hub-readers", "20", "--owners", "5", "--measure", stdout=out)
    assert Asset.objects.filter(org__slug="tinyco").count() == 300
    assert Workload.objects.filter(org__slug="tinyco").count() == 60
    assert WorkloadAsset.objects.filter(asset__in=Asset.objects.filter(org__slug="tinyco").order_by("id")[:1],
                                        direction="in").count() >= 20
    report = out.getvalue()
    assert "graph: hub, 1 hop" in report and "impact: mid dataset, 10 hops up" in report
    if connection.vendor == "postgresql":  # the plans of the statements inside the graph function
        plans = report.split("as auto_explain reports them:")[1]
        assert "FROM catalog_lineage_walk(" in plans and "catalog_workloadasset" in plans and "actual time" in plans
