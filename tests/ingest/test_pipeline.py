"""The worker side: poison events are isolated and parked, pending events are swept, work is claimed once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from catalog.models import Asset, Run
from ingest.models import RawEvent, RawStatus
from ingest.pipeline import normalize_raw_events, sweep_pending
from ingest.tasks import normalize_events
from tests.conftest import post_event
from tests.events import at, dataset, run_event

pytestmark = pytest.mark.django_db


def store_pending(tenant, events):
    """Accept events while the worker is 'down': they are stored, nothing normalizes them."""
    from django.db import transaction

    from clouds.models import IngestKey
    from ingest.contract import parse_event
    from ingest.services import accept_events

    key = IngestKey.objects.get(cloud=tenant.cloud)
    with transaction.atomic():  # on_commit hooks of an outer test transaction never fire
        outcomes = accept_events(key=key, infos=[(i, parse_event(e)) for i, e in enumerate(events)])
    return [o.raw_id for o in outcomes]


def test_a_poison_event_is_parked_after_retries_and_the_rest_go_through(tenant):
    good = [run_event("COMPLETE", f"r{i}", time=at(i), outputs=[dataset("s3://b", f"k{i}")]) for i in range(3)]
    ids = store_pending(tenant, good)
    # Corrupt one stored event the way a bug or a bad migration could.
    RawEvent.objects.filter(pk=ids[1]).update(body=json.dumps({"eventTime": "2026-01-01T00:00:00Z", "run": {}}))
    for attempt in range(1, 4):
        normalize_raw_events(ids)
        poison = RawEvent.objects.get(pk=ids[1])
        assert poison.attempts == attempt
        assert "KeyError" in poison.error
    assert poison.status == RawStatus.PARKED
    assert set(RawEvent.objects.filter(status=RawStatus.PROCESSED).values_list("pk", flat=True)) == {ids[0], ids[2]}
    assert set(Asset.objects.values_list("name", flat=True)) == {"k0", "k2"}


def test_normalizing_leaves_the_garbage_collector_as_it_found_it(tenant):
    """The normalizer pauses the cyclic collector per batch (ingest.gcpause), also when the batch
    fails and its events are isolated one by one."""
    import gc

    good = store_pending(tenant, [run_event("COMPLETE", "r", time=at(0), outputs=[dataset("s3://b", "k")])])
    bad = store_pending(tenant, [run_event("COMPLETE", "s", time=at(1))])
    RawEvent.objects.filter(pk=bad[0]).update(body=json.dumps({"eventTime": "2026-01-01T00:00:00Z", "run": {}}))
    assert gc.isenabled()
    assert normalize_raw_events(good + bad) == 1
    assert gc.isenabled()
    gc.disable()  # a caller that had it off gets it back off
    try:
        assert normalize_raw_events(bad) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_pauses_nest_and_the_last_one_out_resumes_collection():
    import gc

    from ingest.gcpause import cyclic_gc_paused

    with cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_processed_events_are_not_processed_again(tenant):
    ids = store_pending(tenant, [run_event("START", "r", time=at(0))])
    assert normalize_raw_events(ids) == 1
    assert normalize_raw_events(ids) == 0  # already claimed and done


def test_the_task_takes_json_serializable_ids(tenant):
    ids = store_pending(tenant, [run_event("START", "r", time=at(0))])
    json.dumps(ids)
    assert normalize_events.apply(args=[ids]).get() == 1
    assert Run.objects.count() == 1


@override_settings(LINEAGE_SWEEP_AFTER_SECONDS=60)
def test_sweeper_picks_up_only_events_pending_long_enough(tenant):
    old = store_pending(tenant, [run_event("START", "old", time=at(0))])
    fresh = store_pending(tenant, [run_event("START", "fresh", time=at(1))])
    RawEvent.objects.filter(pk__in=old).update(enqueued_at=timezone.now() - timedelta(minutes=5))
    assert sweep_pending() == old
    assert sweep_pending() == []  # re-enqueued just now: not swept again at once
    normalize_raw_events(old + fresh)
    assert sweep_pending(older_than_seconds=0) == []


def test_sweep_task_normalizes_what_was_left_pending(tenant):
    from ingest.tasks import sweep_pending as sweep_task

    store_pending(tenant, [run_event("START", f"r{i}", time=at(i)) for i in range(3)])
    RawEvent.objects.update(enqueued_at=timezone.now() - timedelta(hours=1))
    assert sweep_task.apply().get() == 3  # eager: the enqueued normalization runs at once
    assert RawEvent.objects.filter(status=RawStatus.PROCESSED).count() == 3


def test_posting_through_http_normalizes_after_commit(tenant):
    post_event(Client(), tenant.key, run_event("START", "r", time=at(0)))
    assert RawEvent.objects.get().status == RawStatus.PROCESSED
