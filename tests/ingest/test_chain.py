"""The tamper-evident chain: sealed after ingest, verifiable, and any change to history is detected."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from ingest import chain
from ingest.models import ChainSeal, RawEvent, RawStatus
from ingest.sealing import seal, verify
from tests.conftest import post_event
from tests.events import at, dataset, run_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(tenant, outsider_tenant):
    client = Client()
    for i in range(6):
        post_event(client, tenant.key, run_event("COMPLETE", f"r{i}", time=at(i), outputs=[dataset("s3://b", f"k{i}")]))
    post_event(client, outsider_tenant.key, run_event("START", "x", time=at(0)))
    return tenant


def test_events_are_sealed_by_the_worker_in_arrival_order(history):
    rows = list(RawEvent.objects.filter(org=history.org).order_by("id").values_list("chain_seq", "content_hash", "chain_hash"))
    assert [seq for seq, _, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert [h for _, _, h in rows] == list(chain.walk(chain.GENESIS, [c for _, c, _ in rows]))
    # Each org has its own chain.
    assert RawEvent.objects.exclude(org=history.org).get().chain_seq == 1
    assert ChainSeal.objects.filter(org=history.org).order_by("-seq").first().head_hash == rows[-1][2]


def test_sealing_twice_changes_nothing(history):
    assert seal(history.org.pk) == 0


def test_normalizing_seals_in_the_same_write_and_the_sealer_takes_only_what_normalization_is_done_with(tenant):
    """An event is rewritten once after ingest: the transaction that normalizes it also chains it.
    The sealer leaves pending events to normalization and chains the parked ones; a parked event
    that is retried and goes through keeps its place in the chain."""
    from ingest.pipeline import normalize_raw_events
    from tests.ingest.test_pipeline import store_pending

    good = [run_event("COMPLETE", f"r{i}", time=at(i), outputs=[dataset("s3://b", f"k{i}")]) for i in range(3)]
    ids = store_pending(tenant, good)
    body = RawEvent.objects.get(pk=ids[1]).body
    RawEvent.objects.filter(pk=ids[1]).update(body='{"eventTime": "2026-01-01T00:00:00Z", "run": {}}')
    assert seal(tenant.org.pk) == 0  # all pending: normalization seals them
    with override_settings(LINEAGE_MAX_ATTEMPTS=1):
        normalize_raw_events(ids)
    rows = dict(RawEvent.objects.filter(org=tenant.org).values_list("pk", "chain_seq"))
    assert rows == {ids[0]: 1, ids[1]: None, ids[2]: 2}
    assert RawEvent.objects.get(pk=ids[1]).status == RawStatus.PARKED

    assert seal(tenant.org.pk) == 1  # the parked event
    RawEvent.objects.filter(pk=ids[1]).update(body=body, status=RawStatus.PENDING)  # an operator fixed and retried it
    assert normalize_raw_events([ids[1]]) == 1
    parked = RawEvent.objects.get(pk=ids[1])
    assert (parked.status, parked.chain_seq) == (RawStatus.PROCESSED, 3)
    assert verify(tenant.org).checked == 3 and verify(tenant.org).ok
    assert ChainSeal.objects.filter(org=tenant.org).order_by("-seq").first().seq == 3


def test_an_untouched_chain_verifies(history):
    verdict = verify(history.org)
    assert verdict.ok and verdict.checked == 6 and verdict.head_seq == 6
    out = io.StringIO()
    call_command("verify_lineage_chain", "acme", stdout=out)
    assert "intact: 6 entries" in out.getvalue()


def tamper_body(org, seq):
    raw = RawEvent.objects.get(org=org, chain_seq=seq)
    RawEvent.objects.filter(pk=raw.pk).update(body=raw.body.replace('"k', '"K', 1))


def drop(org, seq):
    RawEvent.objects.filter(org=org, chain_seq=seq).delete()


def swap(org, seq):
    a, b = RawEvent.objects.get(org=org, chain_seq=seq), RawEvent.objects.get(org=org, chain_seq=seq + 1)
    RawEvent.objects.filter(pk=a.pk).update(chain_seq=-1)
    RawEvent.objects.filter(pk=b.pk).update(chain_seq=seq)
    RawEvent.objects.filter(pk=a.pk).update(chain_seq=seq + 1)


def insert_forged(org, seq):
    for raw in RawEvent.objects.filter(org=org, chain_seq__gte=seq).order_by("-chain_seq"):
        RawEvent.objects.filter(pk=raw.pk).update(chain_seq=raw.chain_seq + 1)
    template = RawEvent.objects.filter(org=org).first()
    body = '{"forged":true}'
    RawEvent.objects.create(org=org, cloud=template.cloud, event_time=template.event_time, kind="run", body=body,
                            content_hash=chain.content_hash(body), chain_seq=seq,
                            chain_hash=chain.link("0" * 64, chain.content_hash(body)), status="processed")


def truncate_tail(org, seq):
    RawEvent.objects.filter(org=org, chain_seq__gte=seq).delete()


@pytest.mark.parametrize("tamper", [tamper_body, drop, swap, insert_forged, truncate_tail],
                         ids=["edit", "drop", "swap", "insert", "truncate"])
def test_any_tampering_is_detected(history, tamper):
    tamper(history.org, 3)
    verdict = verify(history.org)
    assert not verdict.ok, verdict
    with pytest.raises(CommandError, match="NOT intact"):
        call_command("verify_lineage_chain", "acme", stdout=io.StringIO(), stderr=io.StringIO())


def test_chain_rule_is_plain_sha256():
    import hashlib

    assert chain.link("0" * 64, "ab") == hashlib.sha256(("0" * 64 + ":ab").encode()).hexdigest()
