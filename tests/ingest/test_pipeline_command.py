"""`manage.py pipeline`: operators see what waits and what was parked, and send parked events back."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalog.models import Asset
from ingest.models import RawEvent, RawStatus
from ingest.pipeline import normalize_raw_events
from tests.events import at, dataset, run_event
from tests.ingest.test_pipeline import store_pending


def pipeline(*args) -> str:
    out = io.StringIO()
    call_command("pipeline", *args, stdout=out)
    return out.getvalue()


def park_poison(tenant) -> tuple[list[int], int]:
    """Three events, the middle one corrupted the way a bug could, normalized until it is parked."""
    ids = store_pending(tenant, [run_event("COMPLETE", f"r{i}", time=at(i), outputs=[dataset("s3://b", f"k{i}")])
                                 for i in range(3)])
    RawEvent.objects.filter(pk=ids[1]).update(body=json.dumps({"eventTime": "2026-01-01T00:00:00Z", "run": {}}))
    for _ in range(3):
        normalize_raw_events(ids)
    assert RawEvent.objects.get(pk=ids[1]).status == RawStatus.PARKED
    return ids, ids[1]


def test_status_shows_each_organizations_backlog_and_fails_past_the_thresholds(tenant, outsider_tenant):
    assert pipeline("status") == "nothing pending or parked\n"
    park_poison(tenant)
    waiting = store_pending(outsider_tenant, [run_event("START", "w1", time=at(1))])
    RawEvent.objects.filter(pk__in=waiting).update(received_at=timezone.now() - timedelta(minutes=12))

    lines = pipeline("status").splitlines()
    assert lines[0].split() == ["organization", "pending", "oldest", "pending", "parked"]
    assert lines[1].split() == ["acme", "0", "-", "1"]
    assert lines[2].split() == ["globex", "1", "12", "minutes", "0"]

    pipeline("status", "--max-lag", "3600", "--max-parked", "1")  # within both: no error
    with pytest.raises(CommandError, match=r"waited 7\d\d s, more than --max-lag 60 s"):
        pipeline("status", "--max-lag", "60")
    with pytest.raises(CommandError, match="1 events are parked, more than --max-parked 0"):
        pipeline("status", "--max-parked", "0")


def test_parked_lists_why_with_control_characters_escaped(tenant, outsider_tenant):
    _, poison = park_poison(tenant)
    RawEvent.objects.filter(pk=poison).update(error="KeyError: 'job'\x1b[2J\nsecond line")
    listed = pipeline("parked")
    assert listed.startswith(f"{poison}  acme/")
    assert "attempts 3  KeyError: 'job'\\x1b[2J" in listed
    assert "\x1b" not in listed and "second line" not in listed
    assert pipeline("parked", "--org", "globex") == "no parked events\n"
    with pytest.raises(CommandError, match="no organization 'nobody'"):
        pipeline("parked", "--org", "nobody")


def test_retry_sends_parked_events_back_once_the_cause_is_fixed(tenant, outsider_tenant):
    """A normalizer bug parked valid events; after the fix the operator retries them."""
    ids = store_pending(tenant, [run_event("COMPLETE", "r1", time=at(1), outputs=[dataset("s3://b", "fixed")])])
    RawEvent.objects.filter(pk__in=ids).update(status=RawStatus.PARKED, attempts=3, error="ValueError: a bug")
    other = store_pending(outsider_tenant, [run_event("COMPLETE", "r2", time=at(1), outputs=[dataset("s3://b", "o")])])
    RawEvent.objects.filter(pk__in=other).update(status=RawStatus.PARKED, attempts=3, error="ValueError: a bug")

    with pytest.raises(CommandError, match="their ids, --org SLUG, or --all"):
        pipeline("retry")
    # Eager Celery here: the retried events are normalized as they are enqueued.
    assert pipeline("retry", "--org", "acme") == "returned 1 parked events to the queue\n"
    retried = RawEvent.objects.get(pk=ids[0])
    assert (retried.status, retried.error) == (RawStatus.PROCESSED, "")
    assert retried.chain_seq is not None
    assert Asset.objects.in_org(tenant.org).filter(name="fixed").exists()
    # The other organization's parked event was not touched.
    assert RawEvent.objects.get(pk=other[0]).status == RawStatus.PARKED


def test_retry_gives_fresh_attempts_and_reports_ids_that_were_not_parked(tenant):
    ids, poison = park_poison(tenant)
    with pytest.raises(CommandError, match=f"not parked, left as they are: {ids[0]}"):
        pipeline("retry", str(poison), str(ids[0]))
    # Still broken: retried with fresh attempts (eagerly, once here), it fails again and waits for the next.
    again = RawEvent.objects.get(pk=poison)
    assert (again.status, again.attempts) == (RawStatus.PENDING, 1)
    assert "KeyError" in again.error
    assert RawEvent.objects.get(pk=ids[0]).status == RawStatus.PROCESSED
