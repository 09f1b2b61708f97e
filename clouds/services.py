"""Writes and rules for clouds: creation, ownership, the lineage toggle, ingest keys."""

from __future__ import annotations

import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class IngestKeyFacts:
    """What never changes about an ingest key: which row it is, and its org and cloud (a key never
    moves; a cloud's public id is not editable). Whether the key is still active and its org still
    has the beta are not facts of this kind: whoever acts on remembered facts checks those in the
    same statement (ingest.services.accept_one), so revocation takes effect at the next request."""

    key_id: int
    org_id: int
    cloud_id: int
    cloud_public_id: str


# Per process, keyed by the key's hash (never the secret). Bounded: cleared when full.
_known_keys: dict[str, IngestKeyFacts] = {}
_last_used_due: dict[int, float] = {}  # key id -> monotonic time at which last_used_at is due a write
KNOWN_KEYS_MAX = 10_000


def authenticate_ingest_key(secret: str) -> IngestKey | None:
    """The active key for a bearer secret, with its cloud and org loaded; None if unknown or revoked."""
    if not looks_like_key(secret):
        return None
    key_hash = hash_key(secret)
    key = IngestKey.objects.select_related("cloud", "org").filter(key_hash=key_hash, revoked_at__isnull=True).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        IngestKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    age = (now - key.last_used_at).total_seconds()
    _last_used_due[key.pk] = time.monotonic() + LAST_USED_RESOLUTION.total_seconds() - age
    if len(_known_keys) >= KNOWN_KEYS_MAX:
        _known_keys.clear()
    _known_keys[key_hash] = IngestKeyFacts(key.pk, key.org_id, key.cloud_id, key.cloud.public_id)
    return key


def known_ingest_key(secret: str) -> IngestKeyFacts | None:
    """The facts of a key this process authenticated before, without asking the database whether it
    is still active (see IngestKeyFacts); None if it has not: then authenticate_ingest_key decides.

    Keeps `last_used_at` as authenticate_ingest_key does, at most one UPDATE per resolution."""
    facts = _known_keys.get(hash_key(secret))
    if facts is not None and time.monotonic() > _last_used_due.get(facts.key_id, 0.0):
        IngestKey.objects.filter(pk=facts.key_id, revoked_at__isnull=True).update(last_used_at=timezone.now())
        _last_used_due[facts.key_id] = time.monotonic() + LAST_USED_RESOLUTION.total_seconds()
    return facts


def forget_ingest_keys() -> None:
    """Drop what this process remembers about keys (tests, whose rows roll back)."""
    _known_keys.clear()
    _last_used_due.clear()
