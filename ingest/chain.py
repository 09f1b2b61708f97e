"""The tamper-evident chain over each organization's raw events. Framework-free hashing rules.

Entry n's hash = SHA-256 of `"<hash of entry n-1>:<content hash of entry n>"` (hex, ASCII); the
entry before the first is 64 zeros. A content hash is SHA-256 of the event's stored canonical
JSON. Anyone holding the entries can recompute the chain with nothing but hashlib; changing,
removing, inserting or reordering an event changes every hash after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

GENESIS = "0" * 64


def link(previous: str, content_hash: str) -> str:
    return hashlib.sha256(f"{previous}:{content_hash}".encode("ascii")).hexdigest()


def content_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def walk(previous: str, content_hashes: Iterable[str]) -> Iterator[str]:
    """The chain hashes following `previous` for these content hashes, in order."""
    for h in content_hashes:
        previous = link(previous, h)
        yield previous
