"""Writes and rules for organizations: membership, the beta flag, the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from orgs.models import AuditEntry, Membership, Organization, Role

SYSTEM_ACTOR = "system"


def record(
    *,
    org: Organization | None,
    actor,
    action: str,
    target_type: str,
    target_id: Any = "",
    target_label: str = "",
    cloud_id: int | None = None,
    before: Any = None,
    after: Any = None,
    allowed: bool = True,
    request_id: str = "",
) -> AuditEntry:
    """Append one audit entry. Call it inside the transaction that makes the change."""
    authenticated = getattr(actor, "is_authenticated", False)
    if authenticated:
        label = actor.get_username()
    elif isinstance(actor, str):
        label = actor  # an operator command or the system
    else:
        label = "anonymous"
    return AuditEntry.objects.create(
        org=org,
        actor=actor if authenticated else None,
        actor_label=label,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_label=target_label[:255],
        cloud_id=cloud_id,
        before=before,
        after=after,
        allowed=allowed,
        request_id=request_id,
    )


def create_org(*, slug: str, name: str, actor=SYSTEM_ACTOR, request_id: str = "") -> tuple[Organization, bool]:
    with transaction.atomic():
        org, created = Organization.objects.get_or_create(slug=slug, defaults={"name": name})
        if created:
            record(org=org, actor=actor, action="org.create", target_type="organization", target_id=org.pk,
                   target_label=org.slug, after={"name": name}, request_id=request_id)
    return org, created


def set_lineage_beta(*, org: Organization, enabled: bool, actor=SYSTEM_ACTOR, request_id: str = "") -> bool:
    """Switch the organization's lineage beta. Returns whether anything changed (idempotent)."""
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=org.pk)
        if org.lineage_beta_enabled == enabled:
            return False
        before = org.lineage_beta_enabled
        org.lineage_beta_enabled = enabled
        org.save(update_fields=["lineage_beta_enabled"])
        record(org=org, actor=actor, action="org.lineage_beta", target_type="organization", target_id=org.pk,
               target_label=org.slug, before={"enabled": before}, after={"enabled": enabled}, request_id=request_id)
    return True


def set_membership(*, org: Organization, user, role: str, actor=SYSTEM_ACTOR, request_id: str = "") -> Membership:
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            org=org, user=user, defaults={"role": role}
        )
        before = None if created else {"role": membership.role}
        if not created and membership.role == role:
            return membership
        membership.role = role
        membership.save(update_fields=["role"])
        record(org=org, actor=actor, action="membership.set", target_type="user", target_id=user.pk,
               target_label=user.get_username(), before=before, after={"role": role}, request_id=request_id)
    return membership


def ensure_user(*, email: str, password: str | None = None, is_staff: bool = False):
    """Get or create a user whose username is their email."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=email, defaults={"email": email, "is_staff": is_staff})
    changed = False
    if password is not None:
        user.set_password(password)
        changed = True
    if is_staff and not user.is_staff:
        user.is_staff = user.is_superuser = True
        changed = True
    if changed:
        user.save()
    return user, created
