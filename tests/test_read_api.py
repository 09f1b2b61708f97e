"""The read API: scoped to the org in the URL; outsiders get 404, anonymous users 401."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog.models import Asset, Run, Workload
from orgs.services import create_api_token
from tests.conftest import post_event
from tests.events import at, dataset, model, run_event, workload

pytestmark = pytest.mark.django_db

ENDPOINTS = ["datasets", "models", "workloads", "runs"]


@pytest.fixture
def catalog(tenant, outsider_tenant):
    client = Client()
    for t, prefix in ((tenant, "acme"), (outsider_tenant, "globex")):
        post_event(client, t.key, run_event(
            "COMPLETE", f"{prefix}-r", time=at(0), workload_facet=workload(f"{prefix}-wl", owner=f"ana@{prefix}.test"),
            inputs=[dataset("s3://raw", f"{prefix}/in.csv")], outputs=[model("mlflow://x", f"{prefix}/m1")]))
    return tenant


def detail_ids(org_slug):
    return {
        "datasets": Asset.objects.get(org__slug=org_slug, kind="dataset").pk,
        "models": Asset.objects.get(org__slug=org_slug, kind="model").pk,
        "workloads": Workload.objects.get(org__slug=org_slug).pk,
        "runs": Run.objects.get(org__slug=org_slug).pk,
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_member_lists_only_their_org(catalog, cast, endpoint):
    r = catalog.client_for(cast["member"]).get(f"/api/v1/o/acme/{endpoint}/")
    assert r.status_code == 200
    assert r.json()["count"] == 1
    assert "globex" not in r.content.decode()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_outsider_gets_404_on_lists_and_details(catalog, cast, endpoint):
    client = catalog.client_for(cast["outsider"])
    assert client.get(f"/api/v1/o/acme/{endpoint}/").status_code == 404
    pk = detail_ids("acme")[endpoint]
    assert client.get(f"/api/v1/o/acme/{endpoint}/{pk}/").status_code == 404
    # ...and cannot reach acme's objects through their own org either.
    assert client.get(f"/api/v1/o/globex/{endpoint}/{pk}/").status_code == 404


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_is_refused(catalog, endpoint):
    refused = Client().get(f"/api/v1/o/acme/{endpoint}/")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"


def test_token_auth_for_scripts(catalog, cast):
    token = create_api_token(user=cast["auditor"])
    r = Client().get("/api/v1/o/acme/models/", HTTP_AUTHORIZATION=f"Token {token}")
    assert r.status_code == 200 and r.json()["results"][0]["kind"] == "model"


def test_staff_sees_any_org(catalog, cast):
    assert catalog.client_for(cast["staff"]).get("/api/v1/o/globex/datasets/").status_code == 200


def test_dataset_detail_and_filters(catalog, cast):
    client = catalog.client_for(cast["member"])
    pk = detail_ids("acme")["datasets"]
    body = client.get(f"/api/v1/o/acme/datasets/{pk}/").json()
    assert body["uri"] == "s3://raw/acme/in.csv" and body["dataset_type"] == "CSV"
    assert client.get("/api/v1/o/acme/datasets/?type=csv").json()["count"] == 1
    assert client.get("/api/v1/o/acme/datasets/?type=parquet").json()["count"] == 0
    assert client.get("/api/v1/o/acme/datasets/?q=in.csv").json()["count"] == 1
    assert client.get("/api/v1/o/acme/workloads/?created_by=ana@acme.test").json()["count"] == 1
    assert client.get("/api/v1/o/acme/workloads/?created_by=me").json()["count"] == 0


def test_a_key_of_one_cloud_never_writes_into_another(catalog):
    assert set(Workload.objects.filter(org=catalog.org).values_list("cloud", flat=True)) == {catalog.cloud.pk}
    assert not Workload.objects.filter(org=catalog.org, external_id__startswith="globex").exists()


def test_openapi_schema_is_served(cast, catalog):
    r = catalog.client_for(cast["member"]).get("/api/v1/schema/")
    assert r.status_code == 200 and b"/api/v1/o/{org_slug}/datasets/" in r.content
