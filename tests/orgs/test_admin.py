"""The Django admin goes through the same permissions and services: audited beta and toggle
changes, read-only memberships and ownerships, keys revoked (never deleted)."""

from __future__ import annotations

import pytest

from clouds.models import Cloud, IngestKey
from orgs.models import AuditEntry, Organization
from tests.orgs.conftest import client_as

pytestmark = pytest.mark.django_db


def test_staff_disable_and_enable_the_beta_with_admin_actions(gov_cast, tenant):
    staff = client_as(gov_cast["staff"])
    response = staff.post("/admin/orgs/organization/", {"action": "disable_lineage_beta",
                                                        "_selected_action": [tenant.org.pk]}, follow=True)
    assert response.status_code == 200
    assert not Organization.objects.get(pk=tenant.org.pk).lineage_beta_enabled
    entry = AuditEntry.objects.filter(action="org.lineage_beta").latest("id")
    assert (entry.actor, entry.after, entry.allowed) == (gov_cast["staff"], {"enabled": False}, True)
    assert entry.request_id
    staff.post("/admin/orgs/organization/", {"action": "enable_lineage_beta", "_selected_action": [tenant.org.pk]})
    assert Organization.objects.get(pk=tenant.org.pk).lineage_beta_enabled


def test_staff_flip_a_clouds_toggle_with_an_admin_action(gov_cast, tenant):
    client_as(gov_cast["staff"]).post("/admin/clouds/cloud/", {"action": "lineage_off",
                                                               "_selected_action": [tenant.cloud.pk]})
    assert not Cloud.objects.get(pk=tenant.cloud.pk).lineage_enabled
    assert AuditEntry.objects.filter(action="cloud.lineage_toggle", actor=gov_cast["staff"]).exists()


def test_keys_are_revoked_not_deleted_in_the_admin(gov_cast, tenant):
    key = IngestKey.objects.get(cloud=tenant.cloud)
    staff = client_as(gov_cast["staff"])
    staff.post("/admin/clouds/ingestkey/", {"action": "revoke_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert staff.get(f"/admin/clouds/ingestkey/{key.pk}/delete/").status_code == 403


def test_the_beta_flag_and_memberships_are_read_only_in_the_change_form(gov_cast, tenant):
    html = client_as(gov_cast["staff"]).get(f"/admin/orgs/organization/{tenant.org.pk}/change/").content.decode()
    assert 'name="lineage_beta_enabled"' not in html
    assert "memberships-0-role" not in html and "admin@acme.test" in html
    assert "/o/acme/settings/" in html


def test_non_staff_cannot_use_the_admin(gov_cast, tenant):
    response = client_as(gov_cast["admin"]).post("/admin/orgs/organization/", {
        "action": "disable_lineage_beta", "_selected_action": [tenant.org.pk]})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert Organization.objects.get(pk=tenant.org.pk).lineage_beta_enabled


def test_api_tokens_are_not_in_the_admin(gov_cast):
    assert client_as(gov_cast["staff"]).get("/admin/authtoken/tokenproxy/").status_code == 404
