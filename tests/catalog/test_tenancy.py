"""Tenancy on every catalog page and endpoint: an outsider gets 404, lists never show another org's
rows, and filter dropdowns never list another org's clouds or projects."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog.models import Asset, Workload
from clouds.models import Project

pytestmark = pytest.mark.django_db


def acme_urls(history) -> list[str]:
    ds = history.asset("daily/features.parquet").pk
    m = history.asset("models/m-churn").pk
    w = history.workload("train").pk
    pages = ["/o/acme/datasets/", "/o/acme/models/", "/o/acme/workloads/"]
    for prefix, pk in (("datasets", ds), ("models", m), ("workloads", w)):
        pages += [f"/o/acme/{prefix}/{pk}/", f"/o/acme/{prefix}/{pk}/lineage/", f"/o/acme/{prefix}/{pk}/impact/",
                  f"/o/acme/{prefix}/{pk}/impact/csv/"]
    api = ["/api/v1/o/acme/datasets/", "/api/v1/o/acme/models/", "/api/v1/o/acme/workloads/", "/api/v1/o/acme/runs/",
           f"/api/v1/o/acme/graph/?node=asset:{ds}", f"/api/v1/o/acme/impact/?node=workload:{w}"]
    for prefix, pk, actions in (("datasets", ds, ("upstream", "downstream", "schema-versions")),
                                ("models", m, ("upstream", "downstream", "schema-versions")),
                                ("workloads", w, ("upstream", "downstream", "runs"))):
        api += [f"/api/v1/o/acme/{prefix}/{pk}/"] + [f"/api/v1/o/acme/{prefix}/{pk}/{a}/" for a in actions]
    return pages + api


def test_member_reaches_every_page_and_endpoint(history, member_client):
    for url in acme_urls(history):
        assert member_client.get(url).status_code == 200, url


def test_outsider_gets_404_on_every_page_and_endpoint(history, cast, tenant):
    client = tenant.client_for(cast["outsider"])
    for url in acme_urls(history):
        r = client.get(url)
        assert r.status_code == 404, url
        assert b"features" not in r.content and b"churn" not in r.content


def test_outsider_cannot_reach_acme_objects_through_their_own_org(history, cast, tenant):
    client = tenant.client_for(cast["outsider"])
    for url in acme_urls(history):
        theirs = url.replace("/o/acme/", "/o/globex/")
        if theirs.rstrip("/").endswith(("datasets", "models", "workloads", "runs")):
            continue  # their own lists: fine, and covered below
        assert client.get(theirs).status_code == 404, theirs


def test_anonymous_is_sent_to_sign_in_or_refused(history):
    client = Client()
    for url in acme_urls(history):
        r = client.get(url)
        if url.startswith("/o/"):
            assert r.status_code == 302 and r["Location"].startswith("/accounts/login/"), url
        else:
            assert r.status_code == 401 and r["WWW-Authenticate"] == "Token", url


def test_lists_never_show_another_orgs_rows(history, member_client, cast, outsider_tenant):
    for url in ("/o/acme/datasets/", "/o/acme/models/", "/o/acme/workloads/"):
        body = member_client.get(url, {"created_by": "", "per_page": 100}).content.decode()
        assert "globex" not in body, url
    for url in ("/api/v1/o/acme/datasets/", "/api/v1/o/acme/models/", "/api/v1/o/acme/workloads/"):
        assert "globex" not in member_client.get(url, {"per_page": 100}).content.decode(), url
    # And the outsider's own lists hold their rows only.
    body = outsider_tenant.client_for(cast["outsider"]).get("/o/globex/datasets/", {"created_by": ""}).content.decode()
    assert "globex-secret.csv" in body and "features" not in body


def test_filter_dropdowns_list_only_this_orgs_clouds_and_projects(history, member_client, outsider_tenant):
    for url in ("/o/acme/datasets/", "/o/acme/models/", "/o/acme/workloads/"):
        r = member_client.get(url)
        body = r.content.decode()
        assert "acme-prod" in body and "acme-dev" in body
        assert "globex" not in body, url
        fs = r.context["filterset"]
        assert set(fs.filters["cloud"].queryset) == {history.tenant.cloud, history.tenant.other_cloud}
        assert set(fs.filters["project"].queryset) == set(Project.objects.filter(org=history.tenant.org))
    assert Project.objects.filter(org=outsider_tenant.org).exists()


def test_another_orgs_cloud_or_project_is_an_invalid_choice(history, member_client, outsider_tenant):
    theirs = outsider_tenant.cloud.pk
    their_project = Project.objects.filter(org=outsider_tenant.org).first().pk
    for params in ({"cloud": theirs}, {"project": their_project}):
        r = member_client.get("/o/acme/datasets/", {"created_by": "", **params})
        assert r.status_code == 200 and not r.context["page"].object_list
        assert "Select a valid choice" in r.content.decode()
        assert member_client.get("/api/v1/o/acme/datasets/", params).status_code == 400


def test_relation_filters_with_another_orgs_ids_find_nothing(history, member_client, outsider_tenant):
    their_asset = Asset.objects.get(org=outsider_tenant.org, name="globex-secret.csv").pk
    their_workload = Workload.objects.get(org=outsider_tenant.org).pk
    assert member_client.get("/api/v1/o/acme/workloads/", {"reads": their_asset}).json()["count"] == 0
    assert member_client.get("/api/v1/o/acme/datasets/", {"read_by": their_workload}).json()["count"] == 0


def test_graph_and_impact_never_cross_into_another_org(history, member_client, outsider_tenant):
    their_asset = Asset.objects.get(org=outsider_tenant.org, name="globex-secret.csv").pk
    assert member_client.get("/api/v1/o/acme/graph/", {"node": f"asset:{their_asset}"}).status_code == 404
    assert member_client.get("/api/v1/o/acme/impact/", {"node": f"asset:{their_asset}"}).status_code == 404
    # Both orgs have a dataset named s3://raw/...; acme's graph reaches only acme's rows.
    body = member_client.get("/api/v1/o/acme/graph/", {"node": history.node("RAW"), "depth": 10}).content.decode()
    assert "globex" not in body


def test_staff_may_read_any_org(history, cast, tenant):
    client = tenant.client_for(cast["staff"])
    assert client.get("/o/globex/datasets/").status_code == 200
    assert client.get(f"/o/acme/datasets/{history.asset('daily/features.parquet').pk}/").status_code == 200
