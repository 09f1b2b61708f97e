"""Who may export, through the page and the API; every export is audited; outsiders get 404."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.test import Client

from catalog.models import Asset
from orgs.models import AuditEntry
from tests.catalog.test_normalize import history
from tests.conftest import post_event, screenshot
from tests.events import at, dataset, run_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(tenant):
    client = Client()
    for event in history():
        post_event(client, tenant.key, event)
    return tenant


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.parametrize("who", ["auditor", "admin", "staff"])
def test_auditors_and_admins_download_an_audited_export(catalog, cast, who):
    r = client_for(cast[who]).post("/o/acme/exports/", {"kind": "lineage", "format": "csv"})
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    data = b"".join(r.streaming_content)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    assert manifest["exported_by"] == cast[who].get_username()
    entry = AuditEntry.objects.get(action="lineage.export", allowed=True)
    assert entry.target_id == manifest["export_id"] == r["X-Export-Id"]


@pytest.mark.parametrize("who", ["member", "owner"])
def test_members_are_refused_and_the_attempt_is_recorded(catalog, cast, who):
    c = client_for(cast[who])
    assert c.get("/o/acme/exports/").status_code == 403
    assert c.post("/o/acme/exports/", {"kind": "raw"}).status_code == 403
    assert c.post("/api/v1/o/acme/exports/", {"kind": "raw"}, content_type="application/json").status_code == 403
    assert AuditEntry.objects.filter(action="lineage.export", allowed=False).count() == 3
    assert not AuditEntry.objects.filter(action="lineage.export", allowed=True).exists()


def test_outsider_gets_404_everywhere(catalog, cast):
    c = client_for(cast["outsider"])
    assert c.get("/o/acme/exports/").status_code == 404
    assert c.post("/o/acme/exports/", {"kind": "raw"}).status_code == 404
    assert c.post("/api/v1/o/acme/exports/", {"kind": "raw"}, content_type="application/json").status_code == 404


def test_anonymous_is_sent_to_sign_in(catalog):
    r = Client().get("/o/acme/exports/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    assert Client().post("/api/v1/o/acme/exports/", {"kind": "raw"}).status_code == 401


def test_evidence_pack_needs_an_asset_of_this_org(catalog, cast, outsider_tenant):
    c = client_for(cast["auditor"])
    r = c.post("/o/acme/exports/", {"kind": "evidence"})
    assert r.status_code == 400 and b"Choose a model or dataset" in r.content
    post_event(Client(), outsider_tenant.key, run_event("START", "g", time=at(0), outputs=[dataset("s3://g", "x")]))
    foreign = Asset.objects.filter(org=outsider_tenant.org).first()
    assert c.post("/o/acme/exports/", {"kind": "evidence", "asset": foreign.pk}).status_code == 400
    model = Asset.objects.get(org=catalog.org, name="models/m-123")
    r = c.post("/api/v1/o/acme/exports/", {"kind": "evidence", "asset": model.pk}, content_type="application/json")
    assert r.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content))).namelist()
    assert {"manifest.json", "prov.json", "governance.json", "events.ndjson", "chain.csv", "lineage.csv"} <= set(names)


def test_filter_dropdowns_list_only_this_orgs_clouds(catalog, cast, outsider_tenant):
    page = client_for(cast["auditor"]).get("/o/acme/exports/").content.decode()
    assert "acme-prod" in page and "globex-prod" not in page


@pytest.mark.django_db(transaction=True)
def test_auditor_downloads_an_evidence_pack_in_the_browser(cast, tenant, page_as, tmp_path):
    client = Client()
    for event in history():
        post_event(client, tenant.key, event)
    model = Asset.objects.get(name="models/m-123")
    page = page_as(cast["auditor"])
    page.goto(f"/o/acme/exports/?kind=evidence&asset={model.pk}")
    assert "models/m-123" in page.locator("[data-testid=export-form]").inner_text()
    screenshot(page, "exports-auditor")
    with page.expect_download() as download:
        page.click("[data-testid=export-form] button[type=submit]")
    path = tmp_path / "pack.zip"
    download.value.save_as(path)
    import subprocess
    import sys
    from pathlib import Path

    verifier = Path(__file__).resolve().parents[2] / "tools" / "verify_export.py"
    result = subprocess.run([sys.executable, str(verifier), str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_asset_pages_offer_an_evidence_pack_to_those_who_may_export(catalog, cast):
    model = Asset.objects.get(name="models/m-123")
    link = f"/o/acme/exports/?kind=evidence&amp;asset={model.pk}"
    assert link in client_for(cast["auditor"]).get(f"/o/acme/models/{model.pk}/").content.decode()
    assert link not in client_for(cast["member"]).get(f"/o/acme/models/{model.pk}/").content.decode()
