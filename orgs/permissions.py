"""Who may change what: the one place governance permissions are decided.

Pages, the REST API and the Django admin all ask `can()` (to show or hide controls) and call
`authorize()` before a change (it raises and audits the denial). The rules, in one table:

| action                         | platform staff | org admin | auditor | member | cloud owner (that cloud) |
|--------------------------------|:--:|:--:|:--:|:--:|:--:|
| org.lineage_beta               | ✓ | ✓ |   |   |   |
| membership.set / .remove       | ✓ | ✓ |   |   |   |
| cloud.owner_grant / _revoke    | ✓ | ✓ |   |   |   |
| ingest_key.create / .revoke    | ✓ | ✓ |   |   | ✓ |
| cloud.lineage_toggle           | ✓ |   |   |   | ✓ |
| audit.view, lineage.export     | ✓ | ✓ | ✓ |   |   |

Reading the org's settings, clouds, projects, keys (prefixes only) and toggle history needs only
membership; `org_for_request` decides that (outsiders get 404).

The lineage toggle belongs to cloud owners (DESIGN.md: "cloud owners (and only they)"); an org
admin who is not an owner cannot flip it. Platform staff can: they operate the platform ("may do
everything") and need a way to switch capture off for a cloud whose owners are gone or during an
incident. Their flips are audited like anyone's, with their own name.

Action names are also the audit log's action names, so a denied attempt and the change it
attempted are found under the same filter.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from clouds.models import Cloud, CloudOwner, IngestKey
from orgs.models import Membership, Organization, Role, org_for_request
from orgs.services import record


class Action(StrEnum):
    LINEAGE_BETA = "org.lineage_beta"
    MEMBER_SET = "membership.set"  # add a member (creating the account if needed) or change a role
    MEMBER_REMOVE = "membership.remove"
    OWNER_GRANT = "cloud.owner_grant"
    OWNER_REVOKE = "cloud.owner_revoke"
    LINEAGE_TOGGLE = "cloud.lineage_toggle"
    KEY_CREATE = "ingest_key.create"
    KEY_REVOKE = "ingest_key.revoke"
    AUDIT_VIEW = "audit.view"
    EXPORT = "lineage.export"


# Org roles that may take each action (platform staff may take every action).
BY_ROLE: dict[Action, frozenset[str]] = {
    Action.LINEAGE_BETA: frozenset({Role.ADMIN}),
    Action.MEMBER_SET: frozenset({Role.ADMIN}),
    Action.MEMBER_REMOVE: frozenset({Role.ADMIN}),
    Action.OWNER_GRANT: frozenset({Role.ADMIN}),
    Action.OWNER_REVOKE: frozenset({Role.ADMIN}),
    Action.KEY_CREATE: frozenset({Role.ADMIN}),
    Action.KEY_REVOKE: frozenset({Role.ADMIN}),
    Action.LINEAGE_TOGGLE: frozenset(),
    Action.AUDIT_VIEW: frozenset({Role.ADMIN, Role.AUDITOR}),
    Action.EXPORT: frozenset({Role.ADMIN, Role.AUDITOR}),
}
# Actions an owner of the cloud concerned may take, whatever their org role.
BY_CLOUD_OWNERSHIP: frozenset[Action] = frozenset({Action.LINEAGE_TOGGLE, Action.KEY_CREATE, Action.KEY_REVOKE})

DENIED: dict[Action, str] = {
    Action.LINEAGE_BETA: "Only org admins and platform staff can enable or disable the lineage beta.",
    Action.MEMBER_SET: "Only org admins can add members or change roles.",
    Action.MEMBER_REMOVE: "Only org admins can remove members.",
    Action.OWNER_GRANT: "Only org admins can grant cloud ownership.",
    Action.OWNER_REVOKE: "Only org admins can remove cloud owners.",
    Action.KEY_CREATE: "Only org admins and this cloud's owners can create ingest keys.",
    Action.KEY_REVOKE: "Only org admins and this cloud's owners can revoke ingest keys.",
    Action.LINEAGE_TOGGLE: "Only this cloud's owners can turn lineage tracking on or off.",
    Action.AUDIT_VIEW: "Only auditors and org admins can read the audit log.",
    Action.EXPORT: "Only auditors and org admins can export lineage records.",
}

Target = Organization | Cloud | IngestKey | Membership | CloudOwner


def _org_and_cloud(obj: Target) -> tuple[Organization, Cloud | None]:
    if isinstance(obj, Organization):
        return obj, None
    if isinstance(obj, Cloud):
        return obj.org, obj
    if isinstance(obj, IngestKey | CloudOwner):
        return obj.cloud.org, obj.cloud
    if isinstance(obj, Membership):
        return obj.org, None
    raise TypeError(f"no permission rules for {type(obj).__name__}")


class Grants:
    """What one user may do in one organization. Build it once per request when a page asks
    `can()` for many controls: it costs at most two queries (role, owned clouds), none for staff."""

    def __init__(self, user, org: Organization):
        self.user, self.org = user, org

    @classmethod
    def for_request(cls, request, org: Organization) -> Grants:
        """One Grants per request and organization, shared by the view and the page's navigation."""
        cache = request.__dict__.setdefault("_grants", {})
        if org.pk not in cache:
            cache[org.pk] = cls(request.user, org)
        return cache[org.pk]

    @cached_property
    def role(self) -> str | None:
        if not self.user.is_authenticated:
            return None
        return Membership.objects.filter(org=self.org, user=self.user).values_list("role", flat=True).first()

    @cached_property
    def owned_cloud_ids(self) -> frozenset[int]:
        return frozenset(Cloud.objects.in_org(self.org).owned_by(self.user).values_list("pk", flat=True))

    def can(self, action: Action, obj: Target) -> bool:
        if not self.user.is_authenticated:
            return False
        if self.user.is_staff:
            return True
        org, cloud = _org_and_cloud(obj)
        if org.pk != self.org.pk or self.role is None:
            return False
        if self.role in BY_ROLE[action]:
            return True
        return action in BY_CLOUD_OWNERSHIP and cloud is not None and cloud.pk in self.owned_cloud_ids


def can(user, action: Action, obj: Target) -> bool:
    return Grants(user, _org_and_cloud(obj)[0]).can(action, obj)


def describe(obj: Target) -> dict[str, Any]:
    """The audit entry's target fields for an object (how services describe the same targets)."""
    _, cloud = _org_and_cloud(obj)
    cloud_id = cloud.pk if cloud else None
    if isinstance(obj, Organization):
        return {"target_type": "organization", "target_id": obj.pk, "target_label": obj.slug}
    if isinstance(obj, Cloud):
        return {"target_type": "cloud", "target_id": obj.pk, "target_label": obj.name, "cloud_id": cloud_id}
    if isinstance(obj, IngestKey):
        return {"target_type": "ingest_key", "target_id": obj.pk, "target_label": f"{obj.name} (lk_{obj.prefix}_…)",
                "cloud_id": cloud_id}
    if isinstance(obj, CloudOwner):
        return {"target_type": "cloud", "target_id": cloud.pk, "target_label": cloud.name, "cloud_id": cloud_id}
    return {"target_type": "user", "target_id": obj.user_id, "target_label": obj.user.get_username()}


def request_id_of(request) -> str:
    return getattr(request, "request_id", "")


def authorize(request, action: Action, obj: Target, *, attempt: dict | None = None,
              grants: Grants | None = None) -> None:
    """Return if the request's user may take `action` on `obj`; else audit the denial and raise
    PermissionDenied (a 403 in pages and the API).

    `attempt` is what was asked for (e.g. `{"enabled": true}`); it is kept as the denied entry's
    `after`. Call this outside any transaction.atomic() block: the denial must stay recorded
    although nothing else is written.
    """
    allowed = (grants or Grants.for_request(request, _org_and_cloud(obj)[0])).can(action, obj)
    if allowed:
        return
    org, _ = _org_and_cloud(obj)
    record(org=org, actor=request.user, action=action, allowed=False, after=attempt,
           request_id=request_id_of(request), **describe(obj))
    raise PermissionDenied(DENIED[action])


def resolve_org(request, slug: str, *, action: Action | None = None) -> Organization:
    """The organization a request addresses, through `org_for_request` (404 unless the user belongs
    to it or is platform staff). When the request attempts a governance `action`, a signed-in
    outsider's attempt is audited as denied, as a platform-level entry (org=None, seen by platform
    staff in the Django admin): writing it into the addressed org's log would let anyone add
    entries to any tenant's log."""
    try:
        return org_for_request(request.user, slug)
    except Http404:
        if action is not None and request.user.is_authenticated:
            record(org=None, actor=request.user, action=action, allowed=False, target_type="organization",
                   target_label=slug, after={"path": request.path[:200], "reason": "not a member"},
                   request_id=request_id_of(request))
        raise


TARGET_TYPES = {Cloud: "cloud", IngestKey: "ingest_key", Membership: "membership", CloudOwner: "cloud_owner"}


def get_in_org_or_404(request, queryset, *, org: Organization, action: Action | None = None, **lookup):
    """One object of `queryset` (already scoped to `org`), or 404. When the request attempts a
    governance `action`, the miss (another org's object, or none at all) is audited as denied."""
    obj = queryset.filter(**lookup).first()
    if obj is None:
        if action is not None:
            target_id = next(iter(lookup.values())) if len(lookup) == 1 else ""
            record(org=org, actor=request.user, action=action, allowed=False,
                   target_type=TARGET_TYPES.get(queryset.model, queryset.model._meta.model_name),
                   target_id=target_id, after={"reason": "not found in this organization"},
                   request_id=request_id_of(request))
        raise Http404(f"No such {queryset.model._meta.verbose_name} in this organization")
    return obj
