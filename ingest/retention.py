"""Retention: raw events older than the organization's period lose their body and become tombstones.

A tombstone keeps its content hash and chain position, so the chain still verifies end to end and
an export shows exactly which entries expired and when, instead of a silent gap. The period is
never shorter than the regulatory minimum unless an operator says so explicitly (and that is
audited).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ingest.models import REGULATORY_MINIMUM_DAYS, RawEvent, RetentionPolicy
from orgs.models import Organization
from orgs.services import SYSTEM_ACTOR, record


class RetentionError(ValueError):
    pass


def retention_days(org: Organization) -> int:
    policy = RetentionPolicy.objects.filter(org=org).first()
    return policy.days if policy else REGULATORY_MINIMUM_DAYS


def set_retention(*, org: Organization, days: int, actor=SYSTEM_ACTOR, below_minimum: bool = False,
                  request_id: str = "") -> bool:
    if days < 1:
        raise RetentionError("retention must be at least one day")
    if days < REGULATORY_MINIMUM_DAYS and not below_minimum:
        raise RetentionError(
            f"{days} days is shorter than the regulatory minimum of {REGULATORY_MINIMUM_DAYS} days (six months); "
            "confirm explicitly to go below it"
        )
    with transaction.atomic():
        before = retention_days(org)
        if before == days:
            return False
        RetentionPolicy.objects.update_or_create(org=org, defaults={"days": days, "updated_by": str(actor)})
        record(org=org, actor=actor, action="retention.set", target_type="organization", target_id=org.pk,
               target_label=org.slug, before={"days": before},
               after={"days": days, "below_regulatory_minimum": days < REGULATORY_MINIMUM_DAYS}, request_id=request_id)
    return True


def apply_retention(*, org: Organization, now: datetime | None = None, actor=SYSTEM_ACTOR) -> int:
    """Tombstone the organization's sealed raw events received before its retention cutoff."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=retention_days(org))
    with transaction.atomic():
        # Only sealed events expire: an unsealed one has no chain position to keep yet.
        expiring = RawEvent.objects.in_org(org).filter(received_at__lt=cutoff, expired_at__isnull=True,
                                                        chain_seq__isnull=False)
        span = sorted(expiring.values_list("chain_seq", flat=True))
        if not span:
            return 0
        count = expiring.update(body="", expired_at=now)
        record(org=org, actor=actor, action="retention.apply", target_type="raw_events", target_label=org.slug,
               after={"expired": count, "received_before": cutoff.isoformat(), "first_seq": span[0],
                      "last_seq": span[-1]})
    return count
