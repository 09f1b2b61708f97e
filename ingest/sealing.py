"""Extending and checking each organization's tamper-evident chain (rules in ingest.chain)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from catalog.bulk import Table
from catalog.normalize import lock_catalog
from ingest import chain
from ingest.models import ChainSeal, RawEvent, RawStatus
from orgs.models import Organization


def seal(org_id: int, *, limit: int = 50_000, wait: bool = True) -> int:
    """Append the organization's unsealed events that normalization is done with (it parked them,
    or they predate sealing at normalization) to its chain, in arrival (id) order. Normalized
    events are sealed by the normalizer itself (mark_processed).

    Sealers of one organization serialize with its normalizer batches on the catalog lock (ingest
    never takes it). With wait=False a sealer that finds the lock taken leaves the job to its holder.
    """
    with transaction.atomic():
        if not lock_catalog(org_id, wait=wait):
            return 0
        pending = list(
            RawEvent.objects.select_for_update(skip_locked=True).filter(org_id=org_id, chain_seq__isnull=True)
            .exclude(status=RawStatus.PENDING).order_by("id").values_list("id", "content_hash")[:limit]
        )
        sealed = _append(org_id, pending)
        Table(RawEvent).update(["chain_seq", "chain_hash"], sealed)
    return len(sealed)


def mark_processed(raws: list, processed_at: datetime) -> None:
    """Mark normalized events processed and append the unsealed ones to their organizations'
    chains, in id order, in one write per event (a second pass over the 2-3 KB rows cost the
    worker as much again). `raws` are the claimed rows: id, org_id, content_hash, chain_seq,
    chain_hash. Takes each organization's catalog lock, in org order like normalization."""
    rows = []
    by_org: dict[int, list] = defaultdict(list)
    for raw in sorted(raws, key=lambda r: r.id):
        if raw.chain_seq is None:
            by_org[raw.org_id].append((raw.id, raw.content_hash))
        else:  # sealed before it was normalized (it was parked once)
            rows.append((raw.id, RawStatus.PROCESSED, processed_at, "", raw.chain_seq, raw.chain_hash))
    for org_id in sorted(by_org):
        lock_catalog(org_id)
        rows += [(pk, RawStatus.PROCESSED, processed_at, "", seq, hash_) for pk, seq, hash_ in _append(org_id, by_org[org_id])]
    Table(RawEvent).update(["status", "processed_at", "error", "chain_seq", "chain_hash"], rows)


def _append(org_id: int, events: list[tuple[int, str]]) -> list[tuple[int, int, str]]:
    """Link (id, content hash) events after the organization's chain head and record the new head
    (the caller holds its catalog lock and writes the events). Returns (id, seq, chain hash)."""
    if not events:
        return []
    head = ChainSeal.objects.filter(org_id=org_id).order_by("-seq").values_list("seq", "head_hash").first()
    seq, previous = head or (0, chain.GENESIS)
    rows = []
    for pk, content_hash in events:
        seq += 1
        previous = chain.link(previous, content_hash)
        rows.append((pk, seq, previous))
    ChainSeal.objects.create(org_id=org_id, seq=seq, head_hash=previous, events=len(rows))
    return rows


def seal_all(*, wait: bool = True) -> int:
    org_ids = (RawEvent.objects.filter(chain_seq__isnull=True).exclude(status=RawStatus.PENDING)
               .values_list("org_id", flat=True).distinct())
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
