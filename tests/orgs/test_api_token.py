"""Personal API tokens for scripts: created on a page (shown once), revoked there."""

from __future__ import annotations

import pytest
from django.test import Client

from orgs.models import AuditEntry
from tests.orgs.conftest import client_as

pytestmark = pytest.mark.django_db


def test_a_token_is_shown_once_works_for_the_api_and_stops_when_revoked(gov_cast):
    page = client_as(gov_cast["auditor"])
    response = page.post("/account/token/", {"op": "create"})
    token = response.content.decode().split('data-testid="new-token">')[1].split("<")[0]
    assert response["Cache-Control"] == "no-store"
    later = page.get("/account/token/").content.decode()
    assert token not in later and token[:6] in later and "Revoke token" in later

    script = Client()
    assert script.get("/api/v1/o/acme/audit/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    # The token carries the user's roles, no more.
    assert script.put("/api/v1/o/acme/lineage-beta/", {"enabled": False}, content_type="application/json",
                      HTTP_AUTHORIZATION=f"Token {token}").status_code == 403

    page.post("/account/token/", {"op": "revoke"})
    assert script.get("/api/v1/o/acme/audit/", HTTP_AUTHORIZATION=f"Token {token}").status_code in (401, 403)
    actions = list(AuditEntry.objects.filter(actor=gov_cast["auditor"], org=None).values_list("action", flat=True))
    assert actions == ["api_token.revoke", "api_token.create"]
    assert token not in str(list(AuditEntry.objects.values("before", "after")))


def test_a_second_token_needs_the_first_revoked(gov_cast):
    page = client_as(gov_cast["member"])
    page.post("/account/token/", {"op": "create"})
    response = page.post("/account/token/", {"op": "create"}, follow=True)
    assert "revoke it first" in response.content.decode()


def test_the_token_page_needs_sign_in(db):
    response = Client().get("/account/token/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
