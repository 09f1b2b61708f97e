"""Ingest keys created by owners and admins: a revoked key stops working at once; the secret is
never stored or logged in clear."""

from __future__ import annotations

import json
import logging

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from clouds.keys import hash_key
from clouds.models import IngestKey
from orgs.models import AuditEntry
from tests.conftest import post_event
from tests.events import run_event
from tests.orgs.conftest import client_as

pytestmark = pytest.mark.django_db


def api(tenant, rest: str) -> str:
    return f"/api/v1/o/acme/clouds/{tenant.cloud.pk}/{rest}"


def test_a_revoked_key_is_refused_from_the_next_request(gov_cast, tenant):
    owner = client_as(gov_cast["owner"])
    created = owner.post(api(tenant, "keys/"), {"name": "ci"}, content_type="application/json").json()
    now = timezone.now().isoformat()
    assert post_event(Client(), created["key"], run_event("START", "r1", time=now)).status_code == 201
    revoked = owner.post(api(tenant, f"keys/{created['id']}/revoke/"))
    assert revoked.status_code == 200 and revoked.json()["changed"] and revoked.json()["revoked_at"]
    refused = post_event(Client(), created["key"], run_event("START", "r2", time=now))
    assert refused.status_code == 401 and refused.json()["error"] == "revoked_key"
    # Revoking again changes nothing and records nothing.
    count = AuditEntry.objects.count()
    assert owner.post(api(tenant, f"keys/{created['id']}/revoke/")).json()["changed"] is False
    assert AuditEntry.objects.count() == count


def test_revoking_from_the_page_stops_the_fixture_key_too(gov_cast, tenant):
    key = IngestKey.objects.get(cloud=tenant.cloud)
    now = timezone.now().isoformat()
    assert post_event(Client(), tenant.key, run_event("START", "r1", time=now)).status_code == 201
    client_as(gov_cast["admin"]).post(f"/o/acme/clouds/{tenant.cloud.pk}/settings/keys/{key.pk}/revoke/")
    assert post_event(Client(), tenant.key, run_event("START", "r2", time=now)).status_code == 401
    # The other cloud's key is untouched.
    assert post_event(Client(), tenant.other_key, run_event("START", "r3", time=now)).status_code == 201


def test_an_owner_of_another_cloud_cannot_revoke_this_clouds_key(gov_cast, tenant):
    key = IngestKey.objects.get(cloud=tenant.cloud)
    response = client_as(gov_cast["other_owner"]).post(api(tenant, f"keys/{key.pk}/revoke/"))
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    # ...nor reach it through their own cloud's URL.
    wrong = client_as(gov_cast["other_owner"]).post(
        f"/api/v1/o/acme/clouds/{tenant.other_cloud.pk}/keys/{key.pk}/revoke/")
    assert wrong.status_code == 404


def test_the_secret_is_never_stored_or_logged_in_clear(gov_cast, tenant, caplog):
    caplog.set_level(logging.DEBUG)
    owner = client_as(gov_cast["owner"])
    page = owner.post(f"/o/acme/clouds/{tenant.cloud.pk}/settings/keys/", {"name": "from the page"})
    from_page = page.content.decode().split('data-testid="new-key-secret">')[1].split("<")[0]
    from_api = owner.post(api(tenant, "keys/"), {"name": "from the api"}, content_type="application/json").json()["key"]
    now = timezone.now().isoformat()
    for secret in (from_page, from_api):
        assert post_event(Client(), secret, run_event("START", f"r-{secret[:11]}", time=now)).status_code == 201
        # A refused request (wrong tenant claim) is logged as a 4xx by Django: still no secret.
        post_event(Client(), secret, {"broken": True})
    for key in IngestKey.objects.filter(name__startswith="from the"):
        owner.post(api(tenant, f"keys/{key.pk}/revoke/"))
    for secret in (from_page, from_api):
        post_event(Client(), secret, run_event("START", "after-revoke", time=now))

    stored = json.dumps([
        list(IngestKey.objects.values()),
        list(AuditEntry.objects.values("target_label", "before", "after")),
        [s.get_decoded() for s in Session.objects.all()],
    ], default=str)
    assert "Unauthorized: /api/v1/lineage" in caplog.text  # the refusals were logged (and captured here)
    for secret in (from_page, from_api):
        assert secret not in caplog.text
        assert secret not in stored
        assert IngestKey.objects.filter(key_hash=hash_key(secret)).exists()
