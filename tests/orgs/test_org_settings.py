"""Organization settings: the lineage beta (org admins, platform staff), members and roles."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from clouds.models import CloudOwner
from ingest.models import RawEvent, RawStatus
from orgs.models import AuditEntry, Membership, Organization, Role
from orgs.services import ensure_user
from tests.conftest import make_tenant, post_event
from tests.events import run_event
from tests.ingest.test_pipeline import store_pending
from tests.orgs.conftest import client_as

pytestmark = pytest.mark.django_db


def test_the_page_says_what_the_beta_means(gov_cast):
    html = client_as(gov_cast["member"]).get("/o/acme/settings/").content.decode()
    assert "no lineage is accepted for any cloud of Acme" in html
    assert "Only org admins and platform staff can enable or disable the lineage beta." in html
    assert 'action="/o/acme/settings/lineage-beta/"' not in html
    admin_html = client_as(gov_cast["admin"]).get("/o/acme/settings/").content.decode()
    assert 'action="/o/acme/settings/lineage-beta/"' in admin_html and "Disable lineage beta" in admin_html


def test_disabling_the_beta_stops_ingest_at_once_and_enabling_resumes_it(gov_cast, tenant):
    admin = client_as(gov_cast["admin"])
    admin.post("/o/acme/settings/lineage-beta/", {"enabled": "off"})
    now = timezone.now().isoformat()
    refused = post_event(Client(), tenant.key, run_event("START", "r1", time=now))
    assert refused.status_code == 403 and refused.json()["error"] == "lineage_disabled"
    admin.put("/api/v1/o/acme/lineage-beta/", json.dumps({"enabled": True}), content_type="application/json")
    assert post_event(Client(), tenant.key, run_event("START", "r2", time=now)).status_code == 201


def test_beta_change_is_audited_with_before_and_after(gov_cast, tenant):
    response = client_as(gov_cast["admin"]).post("/o/acme/settings/lineage-beta/", {"enabled": "off"})
    entry = AuditEntry.objects.filter(action="org.lineage_beta").latest("id")
    assert (entry.before, entry.after, entry.actor_label) == ({"enabled": True}, {"enabled": False}, "admin@acme.test")
    assert entry.request_id == response["X-Request-ID"]


def test_an_admin_adds_an_existing_user_without_touching_their_password(gov_cast, tenant):
    someone, _ = ensure_user(email="someone@elsewhere.test", password="their-own-pw-123")
    admin = client_as(gov_cast["admin"])
    admin.post("/o/acme/settings/members/", {"email": "Someone@Elsewhere.test", "role": "auditor"})
    assert Membership.objects.get(org=tenant.org, user=someone).role == Role.AUDITOR
    response = admin.post("/api/v1/o/acme/members/", {"email": "member@acme.test", "role": "member",
                                                      "password": "takeover-pw-123"}, content_type="application/json")
    assert response.status_code == 400 and "already has an account" in response.json()["detail"]
    gov_cast["member"].refresh_from_db()
    assert gov_cast["member"].check_password("pw-not-secret-123")


def test_an_admin_creates_an_account_that_can_sign_in(gov_cast, tenant):
    admin = client_as(gov_cast["admin"])
    response = admin.post("/api/v1/o/acme/members/", {"email": "new@acme.test", "role": "member",
                                                      "password": "a-long-new-pw-987"}, content_type="application/json")
    assert response.status_code == 201 and response.json()["email"] == "new@acme.test"
    assert Client().login(username="new@acme.test", password="a-long-new-pw-987")
    actions = list(AuditEntry.objects.filter(target_label="new@acme.test").values_list("action", flat=True))
    assert sorted(actions) == ["membership.set", "user.create"]
    assert "a-long-new-pw-987" not in json.dumps(list(AuditEntry.objects.values("before", "after")))


def test_weak_passwords_are_refused(gov_cast):
    response = client_as(gov_cast["admin"]).post("/api/v1/o/acme/members/", {
        "email": "new@acme.test", "role": "member", "password": "123"}, content_type="application/json")
    assert response.status_code == 400 and "password" in response.json()
    assert not get_user_model().objects.filter(username="new@acme.test").exists()


def test_adding_an_existing_member_again_is_refused(gov_cast):
    response = client_as(gov_cast["admin"]).post("/o/acme/settings/members/", {"email": "member@acme.test", "role": "admin"},
                                                 follow=True)
    assert "already a member" in response.content.decode()
    assert Membership.objects.get(user=gov_cast["member"]).role == Role.MEMBER


def test_changing_a_role_takes_effect_on_the_next_request(gov_cast):
    admin, member = client_as(gov_cast["admin"]), client_as(gov_cast["member"])
    assert member.get("/o/acme/audit/").status_code == 403
    pk = Membership.objects.get(user=gov_cast["member"]).pk
    admin.post(f"/o/acme/settings/members/{pk}/role/", {"role": "auditor"})
    assert member.get("/o/acme/audit/").status_code == 200
    entry = AuditEntry.objects.filter(action="membership.set", target_label="member@acme.test").latest("id")
    assert (entry.before, entry.after) == ({"role": "member"}, {"role": "auditor"})


def test_the_last_org_admin_can_be_neither_demoted_nor_removed(gov_cast, tenant):
    admin = client_as(gov_cast["admin"])
    pk = Membership.objects.get(user=gov_cast["admin"]).pk
    page = admin.post(f"/o/acme/settings/members/{pk}/role/", {"role": "member"}, follow=True)
    assert "only org admin" in page.content.decode()
    api = admin.delete(f"/api/v1/o/acme/members/{pk}/")
    assert api.status_code == 400 and "only org admin" in api.json()["detail"]
    assert Membership.objects.get(pk=pk).role == Role.ADMIN
    # With a second admin, the first may step down.
    client_as(gov_cast["staff"]).patch(f"/api/v1/o/acme/members/{Membership.objects.get(user=gov_cast['auditor']).pk}/",
                                       {"role": "admin"}, content_type="application/json")
    assert admin.patch(f"/api/v1/o/acme/members/{pk}/", {"role": "member"},
                       content_type="application/json").json()["role"] == "member"


def test_removing_a_member_removes_their_cloud_ownership(gov_cast, tenant):
    pk = Membership.objects.get(user=gov_cast["owner"]).pk
    assert client_as(gov_cast["admin"]).delete(f"/api/v1/o/acme/members/{pk}/").status_code == 204
    assert not CloudOwner.objects.filter(user=gov_cast["owner"]).exists()
    actions = list(AuditEntry.objects.filter(org=tenant.org).order_by("-id").values_list("action", flat=True)[:2])
    assert actions == ["membership.remove", "cloud.owner_revoke"]
    assert client_as(gov_cast["owner"]).get("/o/acme/settings/").status_code == 404


def test_untrusted_emails_are_escaped(gov_cast, tenant):
    # A syntactically valid address that carries markup in its quoted local part.
    nasty = '"<script>alert(1)</script>"@evil.test'
    user, _ = ensure_user(email=nasty)
    client_as(gov_cast["admin"]).post("/o/acme/settings/members/", {"email": nasty, "role": "member"})
    assert Membership.objects.filter(org=tenant.org, user=user).exists()
    client_as(gov_cast["admin"]).post(f"/o/acme/clouds/{tenant.cloud.pk}/settings/owners/", {"user": user.pk})
    for path in ("/o/acme/settings/", f"/o/acme/clouds/{tenant.cloud.pk}/settings/", "/o/acme/audit/"):
        html = client_as(gov_cast["admin"]).get(path).content.decode()
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_settings_page_query_budget(gov_cast, tenant, django_assert_max_num_queries):
    for i in range(30):
        user, _ = ensure_user(email=f"user{i}@acme.test")
        Membership.objects.create(org=tenant.org, user=user, role=Role.MEMBER)
    client = client_as(gov_cast["admin"])
    with django_assert_max_num_queries(7):
        assert client.get("/o/acme/settings/").status_code == 200


def test_members_api_lists_roles_with_a_query_budget(gov_cast, django_assert_max_num_queries):
    client = client_as(gov_cast["member"])
    with django_assert_max_num_queries(6):
        body = client.get("/api/v1/o/acme/members/").json()
    assert {m["email"]: m["role"] for m in body["results"]}["auditor@acme.test"] == "auditor"
    assert "outsider@globex.test" not in json.dumps(body)


# --- platform staff ------------------------------------------------------------------------------


def test_staff_list_every_org_search_and_filter_it(gov_cast, tenant, outsider_tenant):
    make_tenant("initech", beta=False, toggle_on_since=None)
    staff = client_as(gov_cast["staff"])
    html = staff.get("/staff/orgs/").content.decode()
    assert all(f'data-org="{slug}"' in html for slug in ("acme", "globex", "initech"))
    html = staff.get("/staff/orgs/?beta=off").content.decode()
    assert 'data-org="initech"' in html and 'data-org="acme"' not in html
    html = staff.get("/staff/orgs/?q=glob").content.decode()
    assert 'data-org="globex"' in html and 'data-org="acme"' not in html
    assert [o["slug"] for o in staff.get("/api/v1/orgs/?beta=off").json()["results"]] == ["initech"]


def test_staff_see_each_orgs_normalization_backlog(gov_cast, tenant, outsider_tenant):
    waiting = store_pending(tenant, [run_event("START", f"r{i}") for i in range(2)])
    RawEvent.objects.filter(pk__in=waiting).update(received_at=timezone.now() - timedelta(minutes=12))
    parked = store_pending(outsider_tenant, [run_event("START", "g1")])
    RawEvent.objects.filter(pk__in=parked).update(status=RawStatus.PARKED, attempts=3, error="KeyError: 'job'")
    make_tenant("initech", toggle_on_since=None)
    hooli = store_pending(make_tenant("hooli"), [run_event("START", "h1")])
    RawEvent.objects.filter(pk__in=hooli).update(status=RawStatus.PARKED, attempts=3, error="KeyError: 'job'")

    html = client_as(gov_cast["staff"]).get("/staff/orgs/").content.decode()
    rows = {slug: html.split(f'data-org="{slug}"')[1].split("</tr>")[0] for slug in ("acme", "globex", "initech")}
    assert "2 pending, oldest 12\xa0minutes" in rows["acme"] and "parked" not in rows["acme"]
    assert "1 parked" in rows["globex"] and "pending" not in rows["globex"]
    link = f"/admin/ingest/rawevent/?status__exact=parked&org__id__exact={outsider_tenant.org.pk}"
    assert link.replace("&", "&amp;") in rows["globex"]
    assert "up to date" in rows["initech"]
    # The link lists the parked event in the admin (platform staff are its superusers).
    admin = client_as(gov_cast["staff"]).get(link)
    page = admin.content.decode()
    assert admin.status_code == 200 and "Parked (failed, needs an operator)" in page, page[-3000:]
    assert f"/admin/ingest/rawevent/{parked[0]}/change/" in page and "1 raw event" in page  # not hooli's


def test_staff_enable_the_beta_of_any_org_from_the_list(gov_cast):
    initech = make_tenant("initech", beta=False, toggle_on_since=None).org
    staff = client_as(gov_cast["staff"])
    response = staff.post("/o/initech/settings/lineage-beta/", {"enabled": "on", "next": "/staff/orgs/?beta=off"})
    assert response.status_code == 302 and response["Location"] == "/staff/orgs/?beta=off"
    assert Organization.objects.get(pk=initech.pk).lineage_beta_enabled
    entry = AuditEntry.objects.filter(org=initech, action="org.lineage_beta").get()
    assert entry.actor == gov_cast["staff"] and entry.allowed


def test_next_never_redirects_off_site(gov_cast):
    response = client_as(gov_cast["staff"]).post("/o/acme/settings/lineage-beta/",
                                                 {"enabled": "off", "next": "https://evil.test/"})
    assert response["Location"] == "/o/acme/settings/"


def test_only_staff_see_the_org_list(gov_cast):
    assert client_as(gov_cast["admin"]).get("/staff/orgs/").status_code == 403
    assert Client().get("/staff/orgs/").status_code == 302
    # Others get only their own organizations from the API list.
    assert [o["slug"] for o in client_as(gov_cast["admin"]).get("/api/v1/orgs/").json()["results"]] == ["acme"]


def test_staff_org_list_query_budget(gov_cast, django_assert_max_num_queries):
    for i in range(30):
        make_tenant(f"org{i:02d}", toggle_on_since=None)
    client = client_as(gov_cast["staff"])
    with django_assert_max_num_queries(7):  # 5, and the page's backlog: pending and parked events
        html = client.get("/staff/orgs/?per_page=25").content.decode()
    assert "1 - 25 of 32" in html
