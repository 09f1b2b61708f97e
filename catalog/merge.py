"""Order-independent merging of event contributions into a catalog row.

Every normalized attribute carries the stamp of the event that wrote it: `"<eventTime UTC>|<content
hash>"`, a string that sorts by event time and breaks ties by the event's hash. An attribute takes
the value of the event with the greatest stamp (last writer wins) or, for "first" attributes such
as created-at and created-by, the smallest. Max and min are commutative, associative and
idempotent, so replaying, duplicating or shuffling events leaves the same row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def stamp_for(event_time: datetime, content_hash: str) -> str:
    return f"{event_time.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}|{content_hash}"


def merge_into(
    attrs: dict[str, Any],
    stamps: dict[str, str],
    updates: dict[str, Any],
    stamp: str,
    *,
    first_wins: frozenset[str] = frozenset(),
) -> bool:
    """Merge `updates` (written at `stamp`) into attrs/stamps in place. Returns whether anything changed."""
    return merge_stamped(attrs, stamps, updates, dict.fromkeys(updates, stamp), first_wins)


def merge_stamped(
    attrs: dict[str, Any],
    stamps: dict[str, str],
    updates: dict[str, Any],
    update_stamps: dict[str, str],
    first_wins: set[str] | frozenset[str] = frozenset(),
) -> bool:
    """Merge `updates`, each key written at its own stamp, into attrs/stamps in place; returns
    whether anything changed. The one rule, key by key, so merging a batch's contributions first
    and the result into the stored row gives the row that merging them one by one would."""
    changed = False
    for key, stamp in update_stamps.items():
        old = stamps.get(key)
        if old is not None and (stamp >= old if key in first_wins else stamp <= old):
            continue
        attrs[key] = updates[key]
        stamps[key] = stamp
        changed = True
    return changed
