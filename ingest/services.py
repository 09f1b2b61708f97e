"""Accepting events: the capture rule, the tenancy claims, the durable raw store, the hand-off to the queue."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from catalog.bulk import insert_ignoring_conflicts
from clouds.models import Cloud, IngestKey, Project
from clouds.services import IngestKeyFacts, forget_ingest_keys
from ingest import scheduling
from ingest.contract import EventInfo
from ingest.models import ClusterSighting, DropCount, RawEvent, RawStatus
from ingest.tasks import normalize_events
from orgs.models import Organization


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
    forget_ingest_keys()


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


def lineage_was_on(cloud_id: int, started: datetime, now: datetime) -> bool:
    key = (cloud_id, started)
    on = _decisions.get(key)
    if on is None:
        on = Cloud(pk=cloud_id).lineage_enabled_at(started)
        if started < now:  # the present can still change; only the past is final
            _decisions.put(key, on)
    return on


def _project_cloud_id(public_id: str) -> int:
    """The cloud a project belongs to; 0 if no such project (yet)."""
    owner = _project_cloud.get(public_id)
    if owner is None:
        owner = Project.objects.filter(public_id=public_id).values_list("cloud_id", flat=True).first()
        # Unknown (0) is remembered for a minute only: the worker registers a project when its
        # cloud's events first name it. Meanwhile another org's events naming it get through
        # here, but the normalizer links a workload only to a project of its own org.
        _project_cloud.put(public_id, owner or 0, ttl=None if owner else 60.0)
    return owner


def refusal(key: IngestKey, info: EventInfo) -> str:
    """Why the payload's own tenancy claims contradict its key, or "" if they do not."""
    if info.claimed_org and info.claimed_org != key.org.slug:
        return "the event names another organization (run.facets.workload.organizationId) than its ingest key's"
    if info.claimed_cloud and info.claimed_cloud != key.cloud.public_id:
        return "the event names another cloud (run.facets.workload.cloudId) than its ingest key's"
    if info.claimed_project:
        owner = _project_cloud_id(info.claimed_project)
        if owner and owner != key.cloud_id:
            return "the event names a project (run.facets.workload.projectId) of another cloud than its ingest key's"
    return ""


def accept_one(*, key: IngestKeyFacts, info: EventInfo) -> Outcome | None:
    """The hot path for one event from a key this process knows (clouds.services.known_ingest_key).

    Decides the capture rule from what is remembered, and stores the event in one autocommitted
    statement that itself checks the key is still active and its org still has the beta (and, if
    the event names an organization, that it is the key's), so revocation and the beta switch take
    effect at the next request. Returns None whenever that is not the whole story: a refusal, a
    drop, a duplicate, a revoked key, the beta switched off, or a decision that needs a write (a
    cluster's first sighting). The caller then authenticates precisely and calls accept_events,
    which says which; nothing was written.
    """
    now = timezone.now()
    if info.claimed_cloud and info.claimed_cloud != key.cloud_public_id:
        return None
    if info.claimed_project:
        owner = _project_cloud_id(info.claimed_project)
        if owner and owner != key.cloud_id:
            return None
    if info.cluster_started_at is not None:
        started = info.cluster_started_at
    elif not info.cluster_key:
        started = now
    else:
        started = _first_seen.get((key.cloud_id, info.cluster_key))
        if started is None:
            return None
    if not lineage_was_on(key.cloud_id, started, now):
        return None
    raw_id = _insert_if_key_active(key, info, now)
    if raw_id is None:
        return None
    transaction.on_commit(lambda: enqueue([raw_id]))
    return Outcome(0, "accepted", raw_id=raw_id)


def _insert_if_key_active(key: IngestKeyFacts, info: EventInfo, now: datetime) -> int | None:
    params = [
        _db_value("received_at", now), _db_value("event_time", info.event_time), info.kind,
        _db_value("run_id", info.run_id or None), info.canonical, info.content_hash, RawStatus.PENDING.value, 0, "",
        _db_value("enqueued_at", now), "", key.key_id,
    ]
    if info.claimed_org:
        params.append(info.claimed_org)
    with _server_bound_cursor() as cursor:
        cursor.execute(_insert_one_sql(connection.vendor, bool(info.claimed_org)), params)
        row = cursor.fetchone()
    return row[0] if row else None


@contextmanager
def _server_bound_cursor() -> Iterator:
    """Django's cursor (its health check, error wrapping, execute wrappers and query log), with
    values bound on the server on PostgreSQL: psycopg then prepares a statement it runs often,
    unless prepared statements are off (settings: prepare_threshold), which Django's client-bound
    cursors never are."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            from django.db.backends.postgresql.base import ServerBindingCursor

            client_bound, cursor.cursor = cursor.cursor, ServerBindingCursor(connection.connection)
            client_bound.close()
        yield cursor


def _db_value(field_name: str, value):
    """A RawEvent field's value as the database takes it (on SQLite, UUIDs as hex, for one)."""
    return RawEvent._meta.get_field(field_name).get_db_prep_save(value, connection)


@cache
def _insert_one_sql(vendor: str, with_org_claim: bool) -> str:
    """INSERT one raw event, taking its org and cloud from the key's row, which qualifies only if the
    key is active and its org has the beta (and is the org the event names, if it names one)."""
    q = connection.ops.quote_name
    raw, keys, orgs = RawEvent._meta, IngestKey._meta, Organization._meta

    def col(meta, name: str) -> str:
        return q(meta.get_field(name).column)

    names = ["received_at", "event_time", "kind", "run_id", "body", "content_hash", "status", "attempts", "error",
             "enqueued_at", "chain_hash"]
    placeholders = ["CAST(%s AS uuid)" if n == "run_id" and vendor == "postgresql" else "%s" for n in names]
    columns = [col(raw, "org"), col(raw, "cloud"), col(raw, "ingest_key"), *(col(raw, n) for n in names)]
    claim = f" AND o.{col(orgs, 'slug')} = %s" if with_org_claim else ""
    # Identifiers come from model metadata; every value is a parameter.
    return (
        f"INSERT INTO {q(raw.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT k.{col(keys, 'org')}, k.{col(keys, 'cloud')}, k.{col(keys, 'id')}, {', '.join(placeholders)} "
        f"FROM {q(keys.db_table)} k JOIN {q(orgs.db_table)} o ON o.{col(orgs, 'id')} = k.{col(keys, 'org')} "
        f"WHERE k.{col(keys, 'id')} = %s AND k.{col(keys, 'revoked_at')} IS NULL "
        f"AND o.{col(orgs, 'lineage_beta_enabled')}{claim} "
        f"ON CONFLICT ({col(raw, 'org')}, {col(raw, 'content_hash')}) DO NOTHING RETURNING {col(raw, 'id')}"
    )


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
        on = lineage_was_on(cloud.pk, started, now)
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
    # A conflict is an event stored before (or by a concurrent request): a duplicate, stored once.
    inserted = _insert_new(key, list(fresh.values()), now)
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


_STAGE = "ingest_rawevent_stage"
STAGE_FROM_ROWS = 20


def _insert_new(key: IngestKey, infos: list[EventInfo], now: datetime) -> dict[str, int]:
    """Insert raw events unless their content hash is stored; {content hash: id} of those inserted.

    On PostgreSQL, COPY into a temporary table and one INSERT ... SELECT ... ON CONFLICT from it:
    measured, 10k rows/s where one multi-row INSERT of ~7,000 parameters makes 6k (its parameters
    are quoted and its text parsed, client side and server side). A few rows go in one INSERT: the
    stage costs two more round trips."""
    if connection.vendor != "postgresql" or len(infos) < STAGE_FROM_ROWS:
        rows = [
            RawEvent(org_id=key.org_id, cloud_id=key.cloud_id, ingest_key=key, received_at=now, enqueued_at=now,
                     event_time=info.event_time, kind=info.kind, run_id=info.run_id or None, body=info.canonical,
                     content_hash=info.content_hash)
            for info in infos
        ]
        return {h: pk for pk, h in insert_ignoring_conflicts(RawEvent, rows, ["org", "content_hash"],
                                                              ["id", "content_hash"])}
    # ON COMMIT DELETE ROWS: the stage is empty again once this transaction ends, so it stays
    # within a transaction (no savepoint: a failure rolls the caller's transaction back anyway).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(_stage_sql())
        # Binary: the bodies go as they are, where the text format escapes them byte by byte.
        with cursor.cursor.copy(f"COPY {_STAGE} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "timestamptz", "text", "text", "text", "text"])
            for n, info in enumerate(infos):
                copy.write_row((n, info.event_time, info.kind, info.run_id or None, info.canonical, info.content_hash))
        cursor.execute(_insert_staged_sql(), [key.org_id, key.cloud_id, key.pk, now, now, RawStatus.PENDING.value])
        return {h: pk for pk, h in cursor.fetchall()}


@cache
def _stage_sql() -> str:
    """The stage's body column compresses as the raw table's does (ingest migration 0006): the
    INSERT ... SELECT then moves each compressed body as it is, compressed once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
                       [RawEvent._meta.db_table, RawEvent._meta.get_field("body").column])
        row = cursor.fetchone()
    compression = " COMPRESSION lz4" if row and row[0] == "l" else ""
    return (f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (n int, event_time timestamptz, kind text, run_id text, "
            f"body text{compression}, content_hash text) ON COMMIT DELETE ROWS")


@cache
def _insert_staged_sql() -> str:
    q = connection.ops.quote_name
    raw = RawEvent._meta

    def col(name: str) -> str:
        return q(raw.get_field(name).column)

    columns = ", ".join(col(n) for n in ("org", "cloud", "ingest_key", "received_at", "enqueued_at", "event_time", "kind",
                                         "run_id", "body", "content_hash", "status", "attempts", "error", "chain_hash"))
    # Identifiers come from model metadata; values are parameters (or empty). Rows go in arrival
    # order (ids order the chain).
    return (
        f"INSERT INTO {q(raw.db_table)} ({columns}) "  # noqa: S608
        f"SELECT %s, %s, %s, %s, %s, event_time, kind, CAST(run_id AS uuid), body, content_hash, %s, 0, '', '' "
        f"FROM {_STAGE} ORDER BY n "
        f"ON CONFLICT ({col('org')}, {col('content_hash')}) DO NOTHING RETURNING {col('id')}, {col('content_hash')}"
    )


def enqueue(raw_ids: list[int]) -> None:
    """Make sure a normalization task will claim these events (ingest.scheduling). If the broker
    is down the events stay pending and the sweeper re-enqueues them, so a failure here is logged,
    never raised to the client."""
    scheduling.request_drain(raw_ids, normalize_events.delay)
