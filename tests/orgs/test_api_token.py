"""Personal API tokens for scripts: created on a page (shown once), revoked there, stored hashed."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from orgs.models import ApiToken, AuditEntry
from orgs.services import create_api_token
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
    assert script.get("/api/v1/o/acme/audit/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 401
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


def test_the_database_holds_no_usable_token(gov_cast):
    token = create_api_token(user=gov_cast["member"])
    stored = ApiToken.objects.get(user=gov_cast["member"])
    assert token.startswith(stored.prefix) and token not in str(list(ApiToken.objects.values()))
    # What a dump holds is refused: the hash, or the token with a character changed.
    script = Client()
    for wrong in (stored.token_hash, f"{token[:-1]}x"):
        refused = script.get("/api/v1/orgs/", HTTP_AUTHORIZATION=f"Token {wrong}")
        assert refused.status_code == 401 and refused.json()["detail"] == "Invalid token."
    assert script.get("/api/v1/orgs/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_a_deactivated_users_token_is_refused(gov_cast):
    user = gov_cast["member"]
    token = create_api_token(user=user)
    user.is_active = False
    user.save()
    response = Client().get("/api/v1/orgs/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 401 and response.json()["detail"] == "User inactive or deleted."


@pytest.mark.django_db(transaction=True)  # the schema editor, as migrations use it (SQLite: not in a transaction)
def test_tokens_made_before_hashing_keep_working_and_leave_no_copy_in_clear(gov_cast):
    legacy = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's format: 40 hex characters
    made = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    migration = import_module("orgs.migrations.0005_hash_legacy_tokens")
    with connection.schema_editor() as editor:
        editor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone"
                       " NOT NULL, user_id integer NOT NULL UNIQUE)")
        editor.execute("INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
                       [legacy, made, gov_cast["auditor"].pk])
        migration.import_legacy_tokens(apps, editor)
    assert "authtoken_token" not in connection.introspection.table_names()
    stored = ApiToken.objects.get(user=gov_cast["auditor"])
    assert (stored.prefix, stored.created_at) == (legacy[:6], made)
    assert Client().get("/api/v1/o/acme/audit/", HTTP_AUTHORIZATION=f"Token {legacy}").status_code == 200
    later = client_as(gov_cast["auditor"]).get("/account/token/").content.decode()
    assert legacy[:6] in later and legacy not in later and "Revoke token" in later
