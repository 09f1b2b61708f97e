"""Every role against every governance action, through the pages and through the API.

Allowed: the change happens and is audited with the request's id. Denied to a member of the org:
403, nothing changes, one denied entry in the org's log. Outsiders (another org): 404, nothing
changes, one denied platform-level entry (org=None). Anonymous: sent to sign in (pages) or
401 (API), nothing changes, nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction

from clouds.models import Cloud, CloudOwner, IngestKey
from orgs.models import AuditEntry, Membership, Organization
from tests.orgs.conftest import ROLES, client_as

pytestmark = pytest.mark.django_db


@dataclass
class Ctx:
    tenant: Any
    cast: dict

    @property
    def org(self) -> Organization:
        return self.tenant.org

    @property
    def cloud(self) -> Cloud:
        return self.tenant.cloud

    @property
    def membership(self) -> Membership:
        return Membership.objects.get(org=self.org, user=self.cast["member"])

    @property
    def key(self) -> IngestKey:
        return IngestKey.objects.get(cloud=self.cloud)


Request = tuple[str, str, dict]  # method, path, body


@dataclass(frozen=True)
class Case:
    name: str
    allowed: frozenset[str]
    audit_action: str
    page: Callable[[Ctx], Request]
    api: Callable[[Ctx], Request]
    state: Callable[[Ctx], Any]
    page_ok: int = 302
    api_ok: int = 200
    read: bool = False  # allowed reads are not audited


def cloud_page(c: Ctx, rest: str) -> str:
    return f"/o/acme/clouds/{c.cloud.pk}/settings/{rest}"


def cloud_api(c: Ctx, rest: str) -> str:
    return f"/api/v1/o/acme/clouds/{c.cloud.pk}/{rest}"


ADMINS = frozenset({"staff", "admin"})
CASES = [
    Case("disable lineage beta", ADMINS, "org.lineage_beta",
         page=lambda c: ("post", "/o/acme/settings/lineage-beta/", {"enabled": "off"}),
         api=lambda c: ("put", "/api/v1/o/acme/lineage-beta/", {"enabled": False}),
         state=lambda c: Organization.objects.get(pk=c.org.pk).lineage_beta_enabled),
    Case("turn lineage tracking off", frozenset({"staff", "owner"}), "cloud.lineage_toggle",
         page=lambda c: ("post", cloud_page(c, "lineage/"), {"enabled": "off"}),
         api=lambda c: ("put", cloud_api(c, "lineage/"), {"enabled": False}),
         state=lambda c: Cloud.objects.get(pk=c.cloud.pk).lineage_enabled),
    Case("add a member", ADMINS, "membership.set",
         page=lambda c: ("post", "/o/acme/settings/members/", {"email": "new@acme.test", "role": "member"}),
         api=lambda c: ("post", "/api/v1/o/acme/members/", {"email": "new@acme.test", "role": "member"}),
         state=lambda c: Membership.objects.filter(org=c.org, user__username="new@acme.test").exists(),
         api_ok=201),
    Case("change a role", ADMINS, "membership.set",
         page=lambda c: ("post", f"/o/acme/settings/members/{c.membership.pk}/role/", {"role": "auditor"}),
         api=lambda c: ("patch", f"/api/v1/o/acme/members/{c.membership.pk}/", {"role": "auditor"}),
         state=lambda c: Membership.objects.get(org=c.org, user=c.cast["member"]).role),
    Case("remove a member", ADMINS, "membership.remove",
         page=lambda c: ("post", f"/o/acme/settings/members/{c.membership.pk}/remove/", {}),
         api=lambda c: ("delete", f"/api/v1/o/acme/members/{c.membership.pk}/", {}),
         state=lambda c: Membership.objects.filter(org=c.org, user=c.cast["member"]).exists(),
         api_ok=204),
    Case("grant cloud ownership", ADMINS, "cloud.owner_grant",
         page=lambda c: ("post", cloud_page(c, "owners/"), {"user": c.cast["member"].pk}),
         api=lambda c: ("post", cloud_api(c, "owners/"), {"email": "member@acme.test"}),
         state=lambda c: CloudOwner.objects.filter(cloud=c.cloud, user=c.cast["member"]).exists(),
         api_ok=201),
    Case("remove a cloud owner", ADMINS, "cloud.owner_revoke",
         page=lambda c: ("post", cloud_page(c, f"owners/{c.cast['owner'].pk}/remove/"), {}),
         api=lambda c: ("delete", cloud_api(c, f"owners/{c.cast['owner'].pk}/"), {}),
         state=lambda c: CloudOwner.objects.filter(cloud=c.cloud, user=c.cast["owner"]).exists(),
         api_ok=204),
    Case("create an ingest key", ADMINS | {"owner"}, "ingest_key.create",
         page=lambda c: ("post", cloud_page(c, "keys/"), {"name": "ci"}),
         api=lambda c: ("post", cloud_api(c, "keys/"), {"name": "ci"}),
         state=lambda c: IngestKey.objects.filter(cloud=c.cloud).count(),
         page_ok=200, api_ok=201),
    Case("revoke an ingest key", ADMINS | {"owner"}, "ingest_key.revoke",
         page=lambda c: ("post", cloud_page(c, f"keys/{c.key.pk}/revoke/"), {}),
         api=lambda c: ("post", cloud_api(c, f"keys/{c.key.pk}/revoke/"), {}),
         state=lambda c: IngestKey.objects.get(cloud=c.cloud).revoked_at is None),
    Case("read the audit log", ADMINS | {"auditor"}, "audit.view",
         page=lambda c: ("get", "/o/acme/audit/", {}),
         api=lambda c: ("get", "/api/v1/o/acme/audit/", {}),
         state=lambda c: None, page_ok=200, read=True),
]


def send(client, channel: str, method: str, path: str, body: dict):
    if channel == "api" and method != "get":
        return getattr(client, method)(path, json.dumps(body), content_type="application/json")
    return getattr(client, method)(path, body)


@pytest.mark.parametrize("channel", ["page", "api"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_permission_matrix(gov_cast, tenant, subtests, case: Case, channel: str):
    """One fixture per action and channel; each role runs in a savepoint rolled back afterwards, so
    every role starts from the same state (and the 160 combinations take a few seconds)."""
    ctx = Ctx(tenant, gov_cast)
    for role in ROLES:
        with subtests.test(role=role), transaction.atomic():
            try:
                check(ctx, case, role, channel)
            finally:
                transaction.set_rollback(True)


def check(ctx: Ctx, case: Case, role: str, channel: str) -> None:
    user = ctx.cast[role]
    method, path, body = (case.page if channel == "page" else case.api)(ctx)
    before_state = case.state(ctx)
    before_ids = set(AuditEntry.objects.values_list("pk", flat=True))

    response = send(client_as(user), channel, method, path, body)
    new = AuditEntry.objects.exclude(pk__in=before_ids)

    if role in case.allowed:
        expected = case.page_ok if channel == "page" else case.api_ok
        assert response.status_code == expected, response.content[:500]
        if channel == "page" and expected == 302:
            assert not response["Location"].startswith("/accounts/login/")
        if not case.read:
            assert case.state(ctx) != before_state
            entry = new.get(action=case.audit_action, allowed=True)
            assert entry.actor == user and entry.org == ctx.org
            assert entry.request_id == response["X-Request-ID"]
        return

    assert case.state(ctx) == before_state, "a denied request changed something"
    if role == "anonymous":
        if channel == "page":
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        else:
            assert response.status_code == 401
        assert not new.exists()
        return
    if role == "outsider":
        assert response.status_code == 404
        entry = new.get()
        assert (entry.org, entry.allowed, entry.action, entry.actor) == (None, False, case.audit_action, user)
        return
    assert response.status_code == 403, response.content[:500]
    entry = new.get()
    assert (entry.org, entry.allowed, entry.action, entry.actor) == (ctx.org, False, case.audit_action, user)
    assert entry.request_id == response["X-Request-ID"]


@pytest.mark.parametrize("case", [c for c in CASES if not c.read and "member" not in c.name and "owner" not in c.name],
                         ids=lambda case: case.name)
def test_another_orgs_admin_gets_404_for_this_orgs_objects_through_their_own_org(gov_cast, tenant, outsider_tenant, case):
    """globex's admin addressing acme's cloud or key under /o/globex/...: 404 (scoped lookup), audited in globex's log."""
    ctx = Ctx(tenant, gov_cast)
    for channel in ("page", "api"):
        method, path, body = (case.page if channel == "page" else case.api)(ctx)
        before_state = case.state(ctx)
        response = send(client_as(gov_cast["outsider"]), channel, method, path.replace("/acme/", "/globex/"), body)
        if "lineage-beta" in path:  # org-level: /o/globex/ is their own org, so it is allowed there
            continue
        assert response.status_code == 404
        assert case.state(ctx) == before_state
        assert AuditEntry.objects.filter(org=outsider_tenant.org, allowed=False, action=case.audit_action).exists()
