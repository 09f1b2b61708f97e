"""Extending and checking each organization's tamper-evident chain (rules in ingest.chain)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from catalog.bulk import Table
from ingest import chain
from ingest.models import ChainSeal, RawEvent
from orgs.models import Organization


def seal(org_id: int, *, limit: int = 50_000, wait: bool = True) -> int:
    """Append the organization's unsealed raw events to its chain, in arrival (id) order.

    Sealers of one organization serialize on its row (ingest never takes that lock). With
    wait=False a sealer that finds another one at work leaves the job to it.
    """
    with transaction.atomic():
        if Organization.objects.select_for_update(skip_locked=not wait).filter(pk=org_id).first() is None:
            return 0
        head = ChainSeal.objects.filter(org_id=org_id).order_by("-seq").first()
        seq, previous = (head.seq, head.head_hash) if head else (0, chain.GENESIS)
        pending = list(
            RawEvent.objects.filter(org_id=org_id, chain_seq__isnull=True).order_by("id").values_list("id", "content_hash")[:limit]
        )
        if not pending:
            return 0
        sealed = []
        for pk, content_hash in pending:
            seq += 1
            previous = chain.link(previous, content_hash)
            sealed.append((pk, seq, previous))
        Table(RawEvent).update(["chain_seq", "chain_hash"], sealed)
        ChainSeal.objects.create(org_id=org_id, seq=seq, head_hash=previous, events=len(sealed))
    return len(sealed)


def seal_all(*, wait: bool = True) -> int:
    org_ids = RawEvent.objects.filter(chain_seq__isnull=True).values_list("org_id", flat=True).distinct()
    return sum(seal(org_id, wait=wait) for org_id in list(org_ids))


@dataclass
class Verdict:
    checked: int = 0
    expired: int = 0
    head_seq: int = 0
    head_hash: str = chain.GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(org: Organization, *, max_problems: int = 20) -> Verdict:
    """Recompute the organization's chain from the stored events and compare with what is stored."""
    verdict = Verdict()
    previous, expected_seq = chain.GENESIS, 1
    seals = dict(ChainSeal.objects.filter(org=org).values_list("seq", "head_hash"))
    rows = (
        RawEvent.objects.filter(org=org, chain_seq__isnull=False)
        .order_by("chain_seq")
        .values_list("pk", "chain_seq", "body", "content_hash", "chain_hash", "expired_at")
    )

    def problem(text: str) -> None:
        if len(verdict.problems) < max_problems:
            verdict.problems.append(text)

    for pk, seq, body, content_hash, chain_hash, expired_at in rows.iterator(chunk_size=2000):
        if seq != expected_seq:
            problem(f"sequence jumps from {expected_seq - 1} to {seq} (entries missing)")
        if expired_at is not None:
            verdict.expired += 1  # a tombstone: its body is gone by policy, its hash still links the chain
        elif chain.content_hash(body) != content_hash:
            problem(f"entry {seq} (raw event {pk}): the stored event does not match its content hash")
        previous = chain.link(previous, content_hash)
        if previous != chain_hash:
            problem(f"entry {seq} (raw event {pk}): chain hash does not follow from the entry before")
            previous = chain_hash  # report each break once, not every entry after it
        if seq in seals and seals.pop(seq) != previous:
            problem(f"entry {seq}: differs from the head sealed at that point")
        verdict.checked += 1
        verdict.head_seq, verdict.head_hash = seq, previous
        expected_seq = seq + 1
    for seq in sorted(seals):
        problem(f"a seal names entry {seq}, which is not stored")
    return verdict
