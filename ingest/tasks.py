from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from catalog.analyze import refresh_statistics_in_background
from ingest import pipeline, retention, scheduling, sealing
from orgs.models import Organization

log = logging.getLogger(__name__)


@shared_task(
    autoretry_for=pipeline.TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
    acks_late=True,
)
def normalize_events(raw_event_ids: list[int]) -> int:
    """Normalize these raw events and drain whatever else is pending, then extend the chain and
    start refreshing the planner's statistics of catalog tables that changed much (catalog.analyze).

    The schedule flag is released first (see ingest.scheduling), so an event committed while this
    task runs either is claimed by it or schedules the next task. Events left pending by a final
    failure are swept later; events a busy sealer skipped are sealed by the periodic task."""
    scheduling.release_schedule()
    done, more = pipeline.drain(raw_event_ids)
    if done:
        sealing.seal_all(wait=False)
        if not normalize_events.request.is_eager:
            # A worker's job, beside its normalizing (catalog.analyze): run eagerly (no broker),
            # this is inside the ingest request, which is no place for an ANALYZE.
            refresh_statistics_in_background()
    if more and scheduling.claim_schedule():
        normalize_events.delay([])
    return done


@shared_task
def sweep_pending() -> int:
    """Re-enqueue raw events still pending (run by beat)."""
    ids = pipeline.sweep_pending()
    enqueue(ids)
    if ids:
        log.info("swept %d pending raw events", len(ids))
    return len(ids)


def enqueue(ids: list[int]) -> None:
    """Queue normalization of these raw events, a batch per task."""
    size = settings.LINEAGE_NORMALIZE_BATCH
    for start in range(0, len(ids), size):
        normalize_events.delay(ids[start:start + size])


@shared_task
def seal_chains() -> int:
    """Extend every organization's tamper-evident chain (run by beat)."""
    return sealing.seal_all()


@shared_task
def apply_retention() -> int:
    """Tombstone raw events past each organization's retention period (run daily by beat)."""
    return sum(retention.apply_retention(org=org) for org in Organization.objects.all())
