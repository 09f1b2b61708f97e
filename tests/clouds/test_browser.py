"""Governance pages in real headless Chromium: a cloud owner flips lineage tracking and sees the
history row appear; a member sees it read-only and cannot change it."""

from __future__ import annotations

import pytest

from clouds.models import Cloud
from orgs.models import AuditEntry
from tests.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def settings_path(tenant) -> str:
    return f"/o/acme/clouds/{tenant.cloud.pk}/settings/"


def test_owner_turns_lineage_tracking_off_and_on_and_sees_the_history(gov_cast, tenant, page_as):
    page = page_as(gov_cast["owner"])
    page.goto(settings_path(tenant))
    switch = page.get_by_role("switch", name="Lineage tracking")
    assert switch.get_attribute("aria-checked") == "true"
    history = page.get_by_test_id("toggle-history").locator("tbody tr")
    assert history.count() == 1
    screenshot(page, "cloud-settings-owner-before")

    switch.click()
    page.wait_for_url(f"**{settings_path(tenant)}#lineage-tracking")
    assert "Lineage tracking turned off for acme-prod." in page.locator(".messages").inner_text()
    assert page.get_by_role("switch", name="Lineage tracking").get_attribute("aria-checked") == "false"
    assert history.count() == 2
    newest = history.first.inner_text()
    assert "Turned off" in newest and "owner@acme.test" in newest
    assert not Cloud.objects.get(pk=tenant.cloud.pk).lineage_enabled
    screenshot(page, "cloud-settings-owner-after-off")

    page.get_by_role("switch", name="Lineage tracking").click()
    page.wait_for_load_state()
    assert history.count() == 3 and "Turned on" in history.first.inner_text()
    assert Cloud.objects.get(pk=tenant.cloud.pk).lineage_enabled


def test_member_sees_the_toggle_read_only_and_cannot_change_it(gov_cast, tenant, page_as):
    page = page_as(gov_cast["member"])
    page.goto(settings_path(tenant))
    switch = page.get_by_role("switch", name="Lineage tracking")
    assert switch.get_attribute("aria-disabled") == "true"
    assert page.locator("form[action$='/settings/lineage/']").count() == 0
    owners = page.get_by_test_id("toggle-owners").inner_text()
    assert "Only this cloud's owners can change this setting" in owners and "owner@acme.test" in owners
    switch.click(force=True)  # nothing to submit: still on
    assert page.get_by_test_id("toggle-history").locator("tbody tr").count() == 1
    screenshot(page, "cloud-settings-member-read-only")

    # A hand-made POST with the member's own session and CSRF token is refused and audited (the
    # browser logs the 403).
    page.expected_console_errors.append("status of 403 (Forbidden)")
    status = page.evaluate("""async (path) => {
        const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
        const r = await fetch(path, {method: 'POST', headers: {'X-CSRFToken': token,
            'Content-Type': 'application/x-www-form-urlencoded'}, body: 'enabled=off'});
        return r.status;
    }""", settings_path(tenant) + "lineage/")
    assert status == 403
    assert Cloud.objects.get(pk=tenant.cloud.pk).lineage_enabled
    assert AuditEntry.objects.filter(actor=gov_cast["member"], action="cloud.lineage_toggle", allowed=False).count() == 1


def test_owner_creates_a_key_and_copies_it_once(gov_cast, tenant, page_as):
    page = page_as(gov_cast["owner"])
    page.goto(settings_path(tenant))
    page.get_by_label("New key name").fill("laptop <b>bold</b>")
    page.get_by_role("button", name="Create ingest key").click()
    secret = page.get_by_test_id("new-key-secret").inner_text()
    assert secret.startswith("lk_")
    assert page.locator("#ingest-keys").get_by_text("laptop <b>bold</b>").count() == 1  # shown as text, escaped
    screenshot(page, "cloud-settings-key-created")
    page.goto(settings_path(tenant))
    assert secret not in page.content()


def test_admin_org_settings_audit_log_and_staff_list_render(gov_cast, tenant, page_as):
    page = page_as(gov_cast["admin"])
    page.goto("/o/acme/settings/")
    assert page.get_by_test_id("beta-state").inner_text() == "On"
    page.get_by_label("Role of member@acme.test").select_option("auditor")
    page.locator("tr[data-member='member@acme.test']").get_by_role("button", name="Change role").click()
    assert "member@acme.test is now Auditor." in page.locator(".messages").inner_text()
    screenshot(page, "org-settings-admin")
    page.goto("/o/acme/audit/?per_page=10")
    assert page.get_by_test_id("range").inner_text().startswith("1 - 10 of ")
    screenshot(page, "audit-log-admin")
    page.get_by_label("Rows per page").select_option("25")
    page.wait_for_url("**per_page=25**")

    staff = page_as(gov_cast["staff"])
    staff.goto("/staff/orgs/")
    staff.locator("tr[data-org='acme']").get_by_role("button", name="Disable beta").click()
    staff.wait_for_url("**/staff/orgs/")
    assert "Lineage beta disabled for Acme." in staff.locator(".messages").inner_text()
    screenshot(staff, "staff-org-list")


def test_member_opening_the_audit_log_gets_a_403_page_in_the_shell(gov_cast, tenant, page_as):
    page = page_as(gov_cast["member"])
    response = page.goto("/o/acme/audit/")
    assert response.status == 403
    assert "Only auditors and org admins can read the audit log." in page.content()
    assert page.get_by_role("navigation", name="Organization").is_visible()
    screenshot(page, "audit-log-member-403")
