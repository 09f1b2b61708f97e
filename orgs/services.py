"""Writes and rules for organizations: membership, the beta flag, the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from clouds.keys import hash_key, new_key
from orgs.models import ApiToken, AuditEntry, Membership, Organization, Role

SYSTEM_ACTOR = "system"


class GovernanceError(ValueError):
    """A change the rules refuse whoever asks (the last org admin leaving, a duplicate member).
    Pages show the message; the API answers 400 with it."""


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
        locked = Organization.objects.select_for_update().get(pk=org.pk)
        # The caller's instance follows the stored state, changed or not.
        org.lineage_beta_enabled = locked.lineage_beta_enabled
        if locked.lineage_beta_enabled == enabled:
            return False
        before = locked.lineage_beta_enabled
        locked.lineage_beta_enabled = org.lineage_beta_enabled = enabled
        locked.save(update_fields=["lineage_beta_enabled"])
        record(org=locked, actor=actor, action="org.lineage_beta", target_type="organization", target_id=locked.pk,
               target_label=locked.slug, before={"enabled": before}, after={"enabled": enabled},
               request_id=request_id)
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


def add_member(*, org: Organization, email: str, role: str, password: str | None = None, actor,
               request_id: str = "") -> tuple[Membership, bool]:
    """Add a user to the organization by email, creating the account if there is none.

    Returns (membership, account_created). An existing account's password is never set here: the
    account may belong to other organizations too, and an org admin must not be able to take it
    over. A new account without a password cannot sign in until platform staff set one.
    """
    User = get_user_model()
    email = email.strip()
    with transaction.atomic():
        user = User.objects.filter(username__iexact=email).first()
        created = user is None
        if created:
            user = User(username=email, email=email)
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.save()
            record(org=org, actor=actor, action="user.create", target_type="user", target_id=user.pk,
                   target_label=email, request_id=request_id)
        elif password:
            raise GovernanceError(f"{email} already has an account; add them without a password.")
        elif Membership.objects.filter(org=org, user=user).exists():
            raise GovernanceError(f"{email} is already a member; change their role instead.")
        membership = set_membership(org=org, user=user, role=role, actor=actor, request_id=request_id)
    return membership, created


def _keep_an_admin(membership: Membership) -> None:
    """Refuse to leave the organization without an org admin (nobody could manage it then)."""
    # Lock every admin row of the org so two admins demoting each other cannot both succeed.
    admins = list(
        Membership.objects.select_for_update().filter(org_id=membership.org_id, role=Role.ADMIN).values_list("pk", flat=True)
    )
    if admins == [membership.pk]:
        raise GovernanceError(
            f"{membership.user.get_username()} is the organization's only org admin; make someone else org admin first."
        )


def change_role(*, membership: Membership, role: str, actor, request_id: str = "") -> bool:
    """Change a member's role. Returns whether anything changed (idempotent)."""
    if role not in Role.values:
        raise GovernanceError(f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    with transaction.atomic():
        current = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        if current.role == role:
            return False
        if current.role == Role.ADMIN:
            _keep_an_admin(current)
        set_membership(org=current.org, user=current.user, role=role, actor=actor, request_id=request_id)
    return True


def remove_member(*, membership: Membership, actor, request_id: str = "") -> None:
    """Remove a member, and with them their ownership of the org's clouds (were they added back
    later, they should not silently own clouds again)."""
    # clouds depends on orgs, so its services are imported here rather than at module level.
    from clouds.services import revoke_ownerships_in_org

    with transaction.atomic():
        current = Membership.objects.select_for_update().select_related("user", "org").get(pk=membership.pk)
        if current.role == Role.ADMIN:
            _keep_an_admin(current)
        revoke_ownerships_in_org(org=current.org, user=current.user, actor=actor, request_id=request_id)
        current.delete()
        record(org=current.org, actor=actor, action="membership.remove", target_type="user",
               target_id=current.user_id, target_label=current.user.get_username(), before={"role": current.role},
               request_id=request_id)


def create_api_token(*, user, request_id: str = "") -> str:
    """Create the user's personal API token and return it, once: only its hash is stored."""
    token, prefix = new_key("lt")
    prefix = f"lt_{prefix}"
    with transaction.atomic():
        try:
            with transaction.atomic():  # one token per user is the table's own constraint, races included
                ApiToken.objects.create(user=user, prefix=prefix, token_hash=hash_key(token))
        except IntegrityError:
            raise GovernanceError("You already have an API token; revoke it first to create a new one.") from None
        record(org=None, actor=user, action="api_token.create", target_type="user", target_id=user.pk,
               target_label=user.get_username(), after={"prefix": prefix}, request_id=request_id)
    return token


def revoke_api_token(*, user, request_id: str = "") -> bool:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(user=user).first()
        if token is None:
            return False
        token.delete()
        record(org=None, actor=user, action="api_token.revoke", target_type="user", target_id=user.pk,
               target_label=user.get_username(), before={"prefix": token.prefix}, request_id=request_id)
    return True


def ensure_user(*, email: str, password: str | None = None, is_staff: bool = False):
    """Get or create a user whose username is their email."""
    User = get_user_model()
    # Platform staff may do everything in the Django admin, hence superuser too (a new staff user
    # used to get is_staff alone, and with it no admin permission at all).
    user, created = User.objects.get_or_create(username=email, defaults={"email": email, "is_staff": is_staff,
                                                                         "is_superuser": is_staff})
    changed = False
    if password is not None:
        user.set_password(password)
        changed = True
    if is_staff and not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        changed = True
    if changed:
        user.save()
    return user, created
