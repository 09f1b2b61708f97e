"""Accepting events: the capture rule, the tenancy claims, the durable raw store, the hand-off to the queue."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.bulk import insert_ignoring_conflicts
from clouds.models import Cloud, IngestKey, Project
from ingest import scheduling
from ingest.contract import EventInfo
from ingest.models import ClusterSighting, DropCount, RawEvent
from ingest.tasks import normalize_events

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    index: int
    status: str  # accepted | duplicate | dropped | refused
    raw_id: int | None = None
    reason: str = ""
    extra: dict = field(default_factory=dict)


class _Memo:
    """A small bounded, expiring in-process memo (one per worker process)."""

    def __init__(self, size: int, ttl: float):
        self.size, self.ttl, self.items = size, ttl, OrderedDict()

    def get(self, key):
        hit = self.items.get(key)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, key, value, ttl: float | None = None) -> None:
        self.items[key] = (value, time.monotonic() + (self.ttl if ttl is None else ttl))
        if len(self.items) > self.size:
            self.items.popitem(last=False)

    def clear(self) -> None:
        self.items.clear()


# Exact caches of facts that do not change once true:
# - when a cluster was first seen;
# - which cloud a project belongs to (projects never move);
# - the capture decision for a cluster start time in the past: the toggle history only grows at
#   the present, so a change never alters the state at an earlier instant. Operators can backdate
#   a change (`set_cloud_lineage(at=...)`, demo and imports only); DECISION_TTL bounds how long a
#   process may still apply the state from before such a backdated change.
DECISION_TTL = 60.0
_first_seen = _Memo(100_000, 3600.0)
_project_cloud = _Memo(100_000, 3600.0)
_decisions = _Memo(100_000, DECISION_TTL)


def reset_caches() -> None:
    for memo in (_first_seen, _project_cloud, _decisions):
        memo.clear()


def cluster_started_at(cloud: Cloud, info: EventInfo, now: datetime) -> datetime:
    """When the event's cluster started: as the event says, else when the cluster was first seen."""
    if info.cluster_started_at is not None:
        return info.cluster_started_at
    if not info.cluster_key:
        return now  # dataset and job events have no cluster: the toggle as it is now decides
    key = (cloud.pk, info.cluster_key)
    seen = _first_seen.get(key)
    if seen is None:
        ClusterSighting.objects.bulk_create(
            [ClusterSighting(cloud=cloud, cluster_key=info.cluster_key, first_seen_at=now)], ignore_conflicts=True
        )
        seen = ClusterSighting.objects.get(cloud=cloud, cluster_key=info.cluster_key).first_seen_at
        _first_seen.put(key, seen)
    return seen


def lineage_was_on(cloud: Cloud, started: datetime, now: datetime) -> bool:
    key = (cloud.pk, started)
    on = _decisions.get(key)
    if on is None:
        on = cloud.lineage_enabled_at(started)
        if started < now:  # the present can still change; only the past is final
            _decisions.put(key, on)
    return on


def refusal(key: IngestKey, info: EventInfo) -> str:
    """Why the payload's own tenancy claims contradict its key, or "" if they do not."""
    if info.claimed_org and info.claimed_org != key.org.slug:
        return "the event names another organization (run.facets.workload.organizationId) than its ingest key's"
    if info.claimed_cloud and info.claimed_cloud != key.cloud.public_id:
        return "the event names another cloud (run.facets.workload.cloudId) than its ingest key's"
    if info.claimed_project:
        owner = _project_cloud.get(info.claimed_project)
        if owner is None:
            owner = Project.objects.filter(public_id=info.claimed_project).values_list("cloud_id", flat=True).first()
            # Unknown (0) is remembered for a minute only: the worker registers a project when its
            # cloud's events first name it. Meanwhile another org's events naming it get through
            # here, but the normalizer links a workload only to a project of its own org.
            _project_cloud.put(info.claimed_project, owner or 0, ttl=None if owner else 60.0)
        if owner and owner != key.cloud_id:
            return "the event names a project (run.facets.workload.projectId) of another cloud than its ingest key's"
    return ""


def accept_events(*, key: IngestKey, infos: list[tuple[int, EventInfo]]) -> list[Outcome]:
    """Apply the capture rule, store what is captured, and enqueue it for normalization after commit."""
    now = timezone.now()
    cloud = key.cloud
    outcomes: list[Outcome] = []
    keep: list[tuple[int, EventInfo]] = []
    for index, info in infos:
        reason = refusal(key, info)
        if reason:
            outcomes.append(Outcome(index, "refused", reason=reason))
            continue
        started = cluster_started_at(cloud, info, now)
        on = lineage_was_on(cloud, started, now)
        if not on:
            outcomes.append(Outcome(index, "dropped", reason=(
                f"lineage tracking was off for cloud {cloud.name!r} when this event's cluster started "
                f"({started.isoformat()}); the event was not kept"
            )))
            continue
        keep.append((index, info))

    dropped = sum(1 for o in outcomes if o.status == "dropped")
    with transaction.atomic():
        if dropped:
            _count_drops(cloud, now, dropped)
        if keep:
            outcomes.extend(_store(key, keep, now))
    return sorted(outcomes, key=lambda o: o.index)


def _count_drops(cloud: Cloud, now: datetime, n: int) -> None:
    day = now.date()
    if not DropCount.objects.filter(cloud=cloud, day=day).update(count=F("count") + n):
        DropCount.objects.bulk_create([DropCount(cloud=cloud, day=day, count=0)], ignore_conflicts=True)
        DropCount.objects.filter(cloud=cloud, day=day).update(count=F("count") + n)


def _store(key: IngestKey, keep: list[tuple[int, EventInfo]], now: datetime) -> list[Outcome]:
    """Insert raw events, deduplicated by content hash; enqueue the new ones on commit."""
    fresh: dict[str, EventInfo] = {}
    for _, info in keep:
        fresh.setdefault(info.content_hash, info)
    rows = [
        RawEvent(org_id=key.org_id, cloud_id=key.cloud_id, ingest_key=key, received_at=now, enqueued_at=now,
                 event_time=info.event_time, kind=info.kind, run_id=info.run_id or None, body=info.canonical,
                 content_hash=h)
        for h, info in fresh.items()
    ]
    # A conflict is an event stored before (or by a concurrent request): a duplicate, stored once.
    inserted = dict((h, pk) for pk, h in insert_ignoring_conflicts(RawEvent, rows, ["org", "content_hash"],
                                                                    ["id", "content_hash"]))
    if inserted:
        new_ids = sorted(inserted.values())
        transaction.on_commit(lambda: enqueue(new_ids))
    ids = dict(inserted)
    if len(inserted) < len(fresh):
        ids.update(RawEvent.objects.filter(org_id=key.org_id, content_hash__in=[h for h in fresh if h not in inserted])
                   .values_list("content_hash", "id"))
    outcomes = []
    first_index: dict[str, int] = {}
    for index, info in keep:
        is_new = info.content_hash in inserted and first_index.setdefault(info.content_hash, index) == index
        outcomes.append(Outcome(index, "accepted" if is_new else "duplicate", raw_id=ids.get(info.content_hash)))
    return outcomes


def enqueue(raw_ids: list[int]) -> None:
    """Make sure a normalization task will claim these events (ingest.scheduling). If the broker
    is down the events stay pending and the sweeper re-enqueues them, so a failure here is logged,
    never raised to the client."""
    try:
        if scheduling.claim_schedule():
            normalize_events.delay(raw_ids)
    except Exception as exc:  # the broker's errors are many and transport-specific
        # One line per request: during a broker outage every request lands here.
        log.warning("could not enqueue %d raw events (%s: %s); the sweeper will pick them up",
                    len(raw_ids), type(exc).__name__, exc)
