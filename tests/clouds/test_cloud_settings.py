"""A cloud's settings page: Platform services (lineage tracking and its history), owners,
projects and ingest keys; and the same through the API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from clouds.models import IngestKey, LineageToggleChange
from clouds.services import create_ingest_key, set_cloud_lineage
from orgs.models import AuditEntry
from tests.orgs.conftest import client_as

pytestmark = pytest.mark.django_db


def url(tenant, rest: str = "") -> str:
    return f"/o/acme/clouds/{tenant.cloud.pk}/settings/{rest}"


def api(tenant, rest: str = "") -> str:
    return f"/api/v1/o/acme/clouds/{tenant.cloud.pk}/{rest}"


def test_lineage_tracking_is_described_with_its_considerations(gov_cast, tenant):
    html = client_as(gov_cast["member"]).get(url(tenant)).content.decode()
    assert "Platform services" in html and "Lineage tracking" in html
    assert "Track how data flows through your workloads" in html
    assert "does not capture lineage for clusters that are already running or have terminated" in html
    assert "Restart Workspaces" in html
    assert "keeps capturing lineage for clusters that are running until they terminate" in html


def test_owner_gets_a_switch_others_see_it_read_only_with_the_owners(gov_cast, tenant):
    owner_html = client_as(gov_cast["owner"]).get(url(tenant)).content.decode()
    assert f'action="{url(tenant, "lineage/")}"' in owner_html
    assert 'role="switch" aria-checked="true"' in owner_html
    for role in ("member", "auditor", "admin", "other_owner"):
        html = client_as(gov_cast[role]).get(url(tenant)).content.decode()
        assert f'action="{url(tenant, "lineage/")}"' not in html, role
        assert 'aria-disabled="true"' in html
        assert "Only this cloud's owners can change this setting" in html
        assert '<span class="chip">owner@acme.test</span>' in html


def test_the_history_shows_who_turned_it_on_or_off_and_when(gov_cast, tenant):
    client = client_as(gov_cast["owner"])
    client.post(url(tenant, "lineage/"), {"enabled": "off"})
    html = client.get(url(tenant)).content.decode()
    rows = html.split('data-testid="toggle-history"')[1].split("</table>")[0]
    assert rows.index("Turned off") < rows.index("Turned on")  # newest first
    assert "owner@acme.test" in rows and "system" in rows
    history = client.get(api(tenant, "lineage/history/")).json()["results"]
    assert [(h["enabled"], h["actor"]) for h in history] == [(False, "owner@acme.test"), (True, "system")]


def test_flipping_to_the_current_state_changes_and_records_nothing(gov_cast, tenant):
    client = client_as(gov_cast["owner"])
    entries, changes = AuditEntry.objects.count(), LineageToggleChange.objects.count()
    response = client.post(url(tenant, "lineage/"), {"enabled": "on"}, follow=True)
    assert "already on" in response.content.decode()
    body = client.put(api(tenant, "lineage/"), json.dumps({"enabled": True}), content_type="application/json").json()
    assert body == {"enabled": True, "changed": False}
    assert (AuditEntry.objects.count(), LineageToggleChange.objects.count()) == (entries, changes)


def test_the_toggle_answers_405_to_get_and_403_without_csrf(gov_cast, tenant):
    from django.test import Client

    assert client_as(gov_cast["owner"]).get(url(tenant, "lineage/")).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(gov_cast["owner"])
    assert strict.post(url(tenant, "lineage/"), {"enabled": "off"}).status_code == 403
    assert tenant.cloud.lineage_enabled


def test_a_new_key_is_shown_once_then_only_its_prefix(gov_cast, tenant):
    client = client_as(gov_cast["owner"])
    response = client.post(url(tenant, "keys/"), {"name": "ci"})
    html = response.content.decode()
    secret = html.split('data-testid="new-key-secret">')[1].split("<")[0]
    key = IngestKey.objects.get(name="ci")
    assert secret.startswith(f"lk_{key.prefix}_") and response["Cache-Control"] == "no-store"
    later = client.get(url(tenant)).content.decode()
    assert secret not in later and f"lk_{key.prefix}_…" in later
    listed = client.get(api(tenant, "keys/")).json()["results"]
    assert "key" not in listed[0] and secret not in json.dumps(listed)


def test_the_api_returns_a_new_keys_secret_once(gov_cast, tenant):
    client = client_as(gov_cast["admin"])
    created = client.post(api(tenant, "keys/"), {"name": "ci"}, content_type="application/json").json()
    assert created["key"].startswith(f"lk_{created['prefix']}_") and created["display"] == f"lk_{created['prefix']}_…"
    detail = client.get(api(tenant, f"keys/{created['id']}/")).json()
    assert "key" not in detail and detail["created_by"] == "admin@acme.test"


def test_keys_show_when_they_were_last_used(gov_cast, tenant):
    from tests.conftest import post_event
    from tests.events import run_event

    key, secret = create_ingest_key(cloud=tenant.cloud, name="fresh")
    client = client_as(gov_cast["member"])
    row = client.get(url(tenant)).content.decode().split(f'data-key="{key.prefix}"')[1].split("</tr>")[0]
    assert "Never" in row
    post_event(client, secret, run_event("START", "r1", time=timezone.now().isoformat()))
    row = client.get(url(tenant)).content.decode().split(f'data-key="{key.prefix}"')[1].split("</tr>")[0]
    assert f"{timezone.now():%Y-%m-%d}" in row and "Never" not in row
    listed = {k["name"]: k for k in client.get(api(tenant, "keys/")).json()["results"]}
    assert listed["fresh"]["last_used_at"] is not None


def test_projects_and_keys_are_listed(gov_cast, tenant):
    html = client_as(gov_cast["auditor"]).get(url(tenant)).content.decode()
    assert "training" in html and "prj_acme_training" in html
    assert "lk_" in html
    projects = client_as(gov_cast["auditor"]).get(api(tenant, "projects/")).json()["results"]
    assert [p["public_id"] for p in projects] == ["prj_acme_training"]


def test_cloud_list_api_shows_each_clouds_lineage_state(gov_cast, tenant):
    set_cloud_lineage(cloud=tenant.other_cloud, enabled=False)
    clouds = client_as(gov_cast["member"]).get("/api/v1/o/acme/clouds/").json()["results"]
    assert {c["name"]: c["lineage_enabled"] for c in clouds} == {"acme-prod": True, "acme-dev": False}


def test_granting_ownership_lets_a_member_flip_the_toggle(gov_cast, tenant):
    admin, member = client_as(gov_cast["admin"]), client_as(gov_cast["member"])
    assert member.post(url(tenant, "lineage/"), {"enabled": "off"}).status_code == 403
    admin.post(url(tenant, "owners/"), {"user": gov_cast["member"].pk})
    assert member.post(url(tenant, "lineage/"), {"enabled": "off"}).status_code == 302
    assert not tenant.cloud.lineage_enabled


def test_ownership_is_only_for_members_of_the_org(gov_cast, tenant):
    admin = client_as(gov_cast["admin"])
    response = admin.post(api(tenant, "owners/"), {"email": "outsider@globex.test"}, content_type="application/json")
    assert response.status_code == 400 and "not a member" in response.json()["email"]
    page = admin.post(url(tenant, "owners/"), {"user": gov_cast["outsider"].pk}, follow=True)
    assert "Choose a member of the organization" in page.content.decode()
    assert not tenant.cloud.owners.filter(user=gov_cast["outsider"]).exists()


def test_the_grant_dropdown_lists_only_this_orgs_members_who_are_not_owners(gov_cast, tenant):
    html = client_as(gov_cast["admin"]).get(url(tenant)).content.decode()
    dropdown = html.split('name="user"')[1].split("</select>")[0]
    assert "member@acme.test" in dropdown and "auditor@acme.test" in dropdown
    assert ">owner@acme.test<" not in dropdown and "globex" not in dropdown


def test_history_is_capped_on_the_page_but_complete_in_the_api(gov_cast, tenant):
    start = timezone.now() - timedelta(days=20)
    for i in range(120):
        set_cloud_lineage(cloud=tenant.cloud, enabled=bool(i % 2), at=start + timedelta(minutes=i))
    html = client_as(gov_cast["member"]).get(url(tenant)).content.decode()
    assert html.split('data-testid="toggle-history"')[1].count("<time ") == 100
    assert client_as(gov_cast["member"]).get(api(tenant, "lineage/history/")).json()["count"] == 121


def test_cloud_settings_page_query_budget(gov_cast, tenant, django_assert_max_num_queries):
    for i in range(20):
        create_ingest_key(cloud=tenant.cloud, name=f"k{i}", actor=gov_cast["admin"])
        set_cloud_lineage(cloud=tenant.cloud, enabled=bool(i % 2), at=timezone.now() - timedelta(days=10, minutes=-i))
    client = client_as(gov_cast["admin"])
    client.get(url(tenant))  # warm the session
    with django_assert_max_num_queries(14):
        assert client.get(url(tenant)).status_code == 200


@pytest.mark.parametrize("path", ["", "lineage/history/", "owners/", "projects/", "keys/"])
def test_cloud_api_lists_query_budget(gov_cast, tenant, path, django_assert_max_num_queries):
    for i in range(20):
        create_ingest_key(cloud=tenant.cloud, name=f"k{i}", actor=gov_cast["admin"])
    client = client_as(gov_cast["admin"])
    with django_assert_max_num_queries(7):
        assert client.get(api(tenant, path) if path else "/api/v1/o/acme/clouds/").status_code == 200
