"""Writes and rules for clouds: creation, ownership, the lineage toggle, ingest keys."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from clouds.keys import hash_key, looks_like_key, new_key
from clouds.models import Cloud, CloudOwner, IngestKey, LineageToggleChange, Project
from orgs.models import Membership, Organization
from orgs.services import SYSTEM_ACTOR, GovernanceError, record

# last_used_at is written at most this often per key, so ingest does not turn every request
# into an extra UPDATE of the same row.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _label(actor) -> str:
    return actor.get_username() if getattr(actor, "is_authenticated", False) else str(actor or SYSTEM_ACTOR)


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def create_cloud(*, org: Organization, name: str, actor=SYSTEM_ACTOR, request_id: str = "") -> tuple[Cloud, bool]:
    with transaction.atomic():
        cloud, created = Cloud.objects.get_or_create(org=org, name=name)
        if created:
            record(org=org, actor=actor, action="cloud.create", target_type="cloud", target_id=cloud.pk,
                   target_label=name, cloud_id=cloud.pk, after={"public_id": cloud.public_id}, request_id=request_id)
    return cloud, created


def create_project(*, cloud: Cloud, name: str, public_id: str = "", actor=SYSTEM_ACTOR,
                   request_id: str = "") -> tuple[Project, bool]:
    with transaction.atomic():
        defaults = {"org": cloud.org, **({"public_id": public_id} if public_id else {})}
        project, created = Project.objects.get_or_create(cloud=cloud, name=name, defaults=defaults)
        if created:
            record(org=cloud.org, actor=actor, action="project.create", target_type="project", target_id=project.pk,
                   target_label=name, cloud_id=cloud.pk, after={"public_id": project.public_id}, request_id=request_id)
    return project, created


def grant_ownership(*, cloud: Cloud, user, actor=SYSTEM_ACTOR, request_id: str = "") -> bool:
    """Make a member of the cloud's organization one of its owners. Returns whether they were not already."""
    with transaction.atomic():
        if not Membership.objects.filter(org_id=cloud.org_id, user=user).exists():
            raise GovernanceError(f"{user.get_username()} is not a member of the organization; add them first.")
        _, created = CloudOwner.objects.get_or_create(cloud=cloud, user=user)
        if created:
            record(org=cloud.org, actor=actor, action="cloud.owner_grant", target_type="cloud", target_id=cloud.pk,
                   target_label=cloud.name, cloud_id=cloud.pk, after={"owner": user.get_username()},
                   request_id=request_id)
    return created


def revoke_ownership(*, cloud: Cloud, user, actor=SYSTEM_ACTOR, request_id: str = "") -> bool:
    """Remove one owner of a cloud. Returns whether they were one. A cloud may be left without owners:
    its toggle then stays as it is until an org admin grants ownership again."""
    with transaction.atomic():
        deleted, _ = CloudOwner.objects.filter(cloud=cloud, user=user).delete()
        if deleted:
            record(org=cloud.org, actor=actor, action="cloud.owner_revoke", target_type="cloud", target_id=cloud.pk,
                   target_label=cloud.name, cloud_id=cloud.pk, before={"owner": user.get_username()},
                   request_id=request_id)
    return bool(deleted)


def revoke_ownerships_in_org(*, org: Organization, user, actor=SYSTEM_ACTOR, request_id: str = "") -> int:
    """Remove the user as owner of every cloud of the organization (they are leaving it)."""
    clouds = list(Cloud.objects.in_org(org).owned_by(user))
    for cloud in clouds:
        revoke_ownership(cloud=cloud, user=user, actor=actor, request_id=request_id)
    return len(clouds)


def is_owner(user, cloud: Cloud) -> bool:
    return user.is_authenticated and CloudOwner.objects.filter(cloud=cloud, user=user).exists()


def set_cloud_lineage(*, cloud: Cloud, enabled: bool, actor=SYSTEM_ACTOR, at: datetime | None = None,
                      request_id: str = "") -> bool:
    """Flip the cloud's lineage toggle. Idempotent: setting the current state records nothing.

    `at` backdates the change; only operator tooling (demo data, imports of an existing history)
    passes it.
    """
    with transaction.atomic():
        Cloud.objects.select_for_update().get(pk=cloud.pk)  # serialize concurrent flips of one cloud
        current = cloud.lineage_enabled
        if current == enabled:
            return False
        LineageToggleChange.objects.create(cloud=cloud, enabled=enabled, changed_at=at or timezone.now(),
                                           actor=_user(actor), actor_label=_label(actor))
        record(org=cloud.org, actor=actor, action="cloud.lineage_toggle", target_type="cloud", target_id=cloud.pk,
               target_label=cloud.name, cloud_id=cloud.pk, before={"enabled": current},
               after={"enabled": enabled, **({"at": at.isoformat()} if at else {})}, request_id=request_id)
    return True


def create_ingest_key(*, cloud: Cloud, name: str, actor=SYSTEM_ACTOR, request_id: str = "") -> tuple[IngestKey, str]:
    """Create a key; the secret is returned once and never stored in clear."""
    secret, prefix = new_key()
    with transaction.atomic():
        key = IngestKey.objects.create(org=cloud.org, cloud=cloud, name=name, prefix=prefix, key_hash=hash_key(secret),
                                       created_by=_user(actor))
        record(org=cloud.org, actor=actor, action="ingest_key.create", target_type="ingest_key", target_id=key.pk,
               target_label=f"{name} (lk_{prefix}_…)", cloud_id=cloud.pk, request_id=request_id)
    return key, secret


def revoke_ingest_key(*, key: IngestKey, actor=SYSTEM_ACTOR, request_id: str = "") -> bool:
    with transaction.atomic():
        updated = IngestKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if updated:
            record(org=key.org, actor=actor, action="ingest_key.revoke", target_type="ingest_key", target_id=key.pk,
                   target_label=f"{key.name} (lk_{key.prefix}_…)", cloud_id=key.cloud_id, request_id=request_id)
    return bool(updated)


def authenticate_ingest_key(secret: str) -> IngestKey | None:
    """The active key for a bearer secret, with its cloud and org loaded; None if unknown or revoked."""
    if not looks_like_key(secret):
        return None
    key = (
        IngestKey.objects.select_related("cloud", "org").filter(key_hash=hash_key(secret), revoked_at__isnull=True).first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        IngestKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
