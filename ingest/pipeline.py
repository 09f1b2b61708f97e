"""Normalization of stored raw events: claim, normalize in batches, mark, retry, park, sweep; and what
operators see of it and do about it (backlog, retry_parked: manage.py pipeline)."""

from __future__ import annotations

import logging
import time
from collections import defaultdict, namedtuple
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, Min
from django.utils import timezone

from catalog.bulk import loads_json
from catalog.normalize import EventInput, prepare_batch, write_batch
from clouds.models import Cloud
from ingest import sealing
from ingest.gcpause import cyclic_gc_paused
from ingest.models import RawEvent, RawStatus
from orgs.models import Organization

log = logging.getLogger(__name__)

# Errors worth retrying the whole batch for: the database went away or two workers collided.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def normalize_raw_events(raw_ids: Iterable[int]) -> int:
    """Normalize the given raw events (those still pending). Returns how many were processed.

    Transient database errors propagate so the task is retried; any other error is pinned to the
    events that cause it, which are retried up to LINEAGE_MAX_ATTEMPTS and then parked.
    """
    done = 0
    for chunk in _chunks(sorted(set(raw_ids)), settings.LINEAGE_NORMALIZE_BATCH):
        done += _normalize_chunk(chunk, fill=False)
    return done


_CLAIMED = ("id", "org_id", "cloud_id", "content_hash", "body", "attempts", "chain_seq", "chain_hash")
Claimed = namedtuple("Claimed", _CLAIMED)


def _claim(ids: list[int], room: int, *, fill: bool) -> list[Claimed]:
    """Lock the given pending rows and, with `fill`, complete the batch up to `room` with the
    oldest other pending rows. Rows another worker holds are skipped (it will finish them); a
    worker that dies rolls back and leaves its rows pending. Rows come as named tuples of what
    normalization needs.

    On PostgreSQL, `ingest_claim_pending` (migration ingest 0007) does the same with plans that read
    only the rows it claims, however many are pending and whatever the statistics say of them."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The column names are ours; the values are parameters.
            cursor.execute(f"SELECT {', '.join(_CLAIMED)} FROM ingest_claim_pending(%s::bigint[], %s::integer)",  # noqa: S608
                           [ids, room if fill else None])
            return [Claimed(*row) for row in cursor.fetchall()]
    pending = RawEvent.objects.select_for_update(skip_locked=True).filter(status=RawStatus.PENDING)
    raws = [Claimed(*row) for row in pending.filter(id__in=ids).order_by("id").values_list(*_CLAIMED)] if ids else []
    if fill and len(raws) < room:
        raws += [Claimed(*row) for row in pending.exclude(id__in=[r.id for r in raws]).order_by("id")
                 .values_list(*_CLAIMED)[: room - len(raws)]]
    return raws


def drain(raw_ids: Iterable[int] = (), *, max_seconds: float = 30.0) -> tuple[int, bool]:
    """Normalize these events and then whatever else is pending, a batch at a time, for at most
    `max_seconds`. Returns (events normalized, whether pending events may remain)."""
    deadline = time.monotonic() + max_seconds
    ids = sorted(set(raw_ids))
    done = 0
    while True:
        claimed = _normalize_chunk(ids[: settings.LINEAGE_NORMALIZE_BATCH], fill=True)
        ids = ids[settings.LINEAGE_NORMALIZE_BATCH:]
        done += claimed
        if not claimed and not ids:
            return done, False
        if time.monotonic() > deadline:
            return done, True


def _normalize_chunk(ids: list[int], *, fill: bool) -> int:
    # Decoded events, merged rows and chain links hold no reference cycles (see ingest.gcpause).
    with transaction.atomic(), cyclic_gc_paused():
        raws = _claim(ids, settings.LINEAGE_NORMALIZE_BATCH, fill=fill)
        if not raws:
            return 0
        try:
            with transaction.atomic():
                _apply(raws)
            failed: dict[int, str] = {}
        except TRANSIENT_ERRORS:
            raise
        except (DatabaseError, IntegrityError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("batch of %d raw events failed (%s); isolating the culprits", len(raws), exc)
            failed = _isolate(raws)
        ok = [r for r in raws if r.id not in failed]
        sealing.mark_processed(ok, timezone.now())
        for raw in raws:
            if raw.id in failed:
                attempts = raw.attempts + 1
                status = RawStatus.PARKED if attempts >= settings.LINEAGE_MAX_ATTEMPTS else RawStatus.PENDING
                RawEvent.objects.filter(id=raw.id).update(attempts=attempts, error=failed[raw.id][:10_000], status=status)
                if status == RawStatus.PARKED:
                    log.error("raw event %s parked after %d attempts: %s", raw.id, attempts, failed[raw.id])
        return len(ok)


def _apply(raws: list) -> None:
    # Orgs and clouds are read separately: joining them into the claim would lock their rows too.
    orgs = {o.pk: o for o in Organization.objects.filter(pk__in={r.org_id for r in raws})}
    clouds = {c.pk: c for c in Cloud.objects.filter(pk__in={r.cloud_id for r in raws})}
    by_org: dict[int, list[EventInput]] = defaultdict(list)
    for raw in raws:
        by_org[raw.org_id].append(
            EventInput(event=loads_json(raw.body), cloud=clouds[raw.cloud_id], content_hash=raw.content_hash)
        )
    # Everything is prepared before the first catalog lock is taken, and the locks are taken in
    # a fixed order (catalog.normalize).
    batches = [prepare_batch(orgs[org_id], by_org[org_id]) for org_id in sorted(by_org)]
    for batch in batches:
        write_batch(batch)


def _isolate(raws: list) -> dict[int, str]:
    """Apply events one by one, each in its own savepoint; return the ones that fail, with why."""
    failed = {}
    for raw in raws:
        try:
            with transaction.atomic():
                _apply([raw])
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:  # a poison event must not block the others, whatever it raises
            failed[raw.id] = f"{type(exc).__name__}: {exc}"
    return failed


def sweep_pending(*, older_than_seconds: int | None = None, limit: int = 50_000) -> list[int]:
    """Raw events still pending after a while (broker was down, a worker died): mark them
    re-enqueued now and return their ids for the caller to enqueue."""
    age = settings.LINEAGE_SWEEP_AFTER_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - timezone.timedelta(seconds=age)
    with transaction.atomic():
        ids = list(
            RawEvent.objects.filter(status=RawStatus.PENDING, enqueued_at__lte=cutoff)
            .order_by("enqueued_at")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            RawEvent.objects.filter(id__in=ids).update(enqueued_at=timezone.now())
    return ids


# --- Operators -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    """One organization's events waiting for normalization, and those parked for an operator."""

    org_id: int
    pending: int = 0
    oldest_pending: datetime | None = None  # when the oldest pending event was received: the lag now
    parked: int = 0


def backlog(org_ids: Iterable[int] | None = None) -> list[Backlog]:
    """Every organization (of `org_ids`, if given) with events pending or parked, by organization
    id. Reads the pending and parked rows only, through their partial indexes (rawevent_pending_id,
    rawevent_parked)."""
    rows: dict[int, Backlog] = {}
    events = RawEvent.objects.all() if org_ids is None else RawEvent.objects.filter(org_id__in=list(org_ids))
    pending = (events.filter(status=RawStatus.PENDING).values("org_id")
               .annotate(n=Count("id"), oldest=Min("received_at")).order_by())
    for row in pending:
        rows[row["org_id"]] = Backlog(row["org_id"], pending=row["n"], oldest_pending=row["oldest"])
    parked = events.filter(status=RawStatus.PARKED).values("org_id").annotate(n=Count("id")).order_by()
    for row in parked:
        old = rows.get(row["org_id"], Backlog(row["org_id"]))
        rows[row["org_id"]] = Backlog(old.org_id, old.pending, old.oldest_pending, parked=row["n"])
    return [rows[org_id] for org_id in sorted(rows)]


def parked_events(org: Organization | None = None):
    """Parked events, of `org` or of every organization (the rawevent_parked index)."""
    parked = RawEvent.objects.filter(status=RawStatus.PARKED)
    return parked if org is None else parked.in_org(org)


def retry_parked(*, org: Organization | None = None, ids: Iterable[int] | None = None) -> list[int]:
    """Return parked events (of `org`, or these ids, or both) to the queue with their attempts
    reset, once what parked them is fixed; returns their ids, for the caller to enqueue. Their last
    error stays until they are normalized. They keep their place in the chain (parked events are
    sealed when parked; ingest.sealing.mark_processed keeps it)."""
    parked = parked_events(org)
    if ids is not None:
        parked = parked.filter(pk__in=list(ids))
    with transaction.atomic():
        found = list(parked.select_for_update().order_by("id").values_list("id", flat=True))
        RawEvent.objects.filter(pk__in=found).update(status=RawStatus.PENDING, attempts=0, enqueued_at=timezone.now())
    return found
