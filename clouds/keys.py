"""Ingest key format and hashing. No models here: plain functions, tested as such.

A key is `lk_<prefix>_<secret>`: the prefix (8 chars) is stored in clear so people can tell keys
apart; the whole key is stored only as its SHA-256. Keys carry 192 bits of randomness, so a fast
hash is enough (there is nothing to brute-force, unlike a password).
"""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_RE = re.compile(r"^lk_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{32})$")


def new_key(scheme: str = "lk") -> tuple[str, str]:
    """Return (key, prefix): `<scheme>_<prefix>_<secret>`, `lk` for ingest keys, `lt` for personal
    API tokens (orgs.services), recognisable by people and secret scanners."""
    prefix = secrets.token_hex(4)
    return f"{scheme}_{prefix}_{secrets.token_urlsafe(24)}", prefix


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(key: str) -> bool:
    return bool(KEY_RE.match(key))


def new_public_id(kind: str) -> str:
    """Public ids like `cld_3f9a1c2b7d4e` for clouds and projects (used in URIs, never secret)."""
    return f"{kind}_{secrets.token_hex(6)}"
