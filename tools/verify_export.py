#!/usr/bin/env python3
"""Verify a lineage export (zip or unpacked folder) offline, with Python's standard library only.

    python3 verify_export.py EXPORT.zip [--public-key BASE64]

Checks, and says which failed:
1. every file the manifest lists is present, unaltered (SHA-256 and size) and nothing else was added;
2. chain.csv recomputes: hash(n) = sha256(hash(n-1) + ":" + content hash), from the manifest's
   `chain_previous_hash` to its `chain_last_hash`, with no gap in the sequence numbers;
3. every line of events.ndjson hashes to a chain entry, in chain order, each at most once; for a
   full raw export, every chain entry has its event (nothing removed) unless chain.csv marks it
   expired by the retention policy (a tombstone: its hash still links the chain);
4. the signature (manifest.sig), if present: checked when the `cryptography` package is available
   (Ed25519 is not in the standard library); --public-key pins the key you expect.
Exit status 0 when the export verifies, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

ZERO = "0" * 64


class Export:
    def __init__(self, path: Path):
        self.zip = zipfile.ZipFile(path) if path.is_file() else None
        self.dir = None if self.zip else path

    def names(self) -> set[str]:
        if self.zip:
            return {n for n in self.zip.namelist() if not n.endswith("/")}
        return {str(p.relative_to(self.dir)) for p in self.dir.rglob("*") if p.is_file()}

    def open(self, name: str):
        return self.zip.open(name) if self.zip else (self.dir / name).open("rb")


def sha256_of(export: Export, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with export.open(name) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify(path: Path, public_key: str | None = None) -> list[str]:
    problems: list[str] = []
    export = Export(path)
    names = export.names()
    if "manifest.json" not in names:
        return ["manifest.json is missing"]
    with export.open("manifest.json") as handle:
        manifest_bytes = handle.read()
    manifest = json.loads(manifest_bytes)

    # 1. Files.
    listed = manifest.get("files", {})
    for name, meta in listed.items():
        if name not in names:
            problems.append(f"{name}: listed in the manifest but missing")
            continue
        digest, size = sha256_of(export, name)
        if digest != meta["sha256"] or size != meta["bytes"]:
            problems.append(f"{name}: content differs from the manifest (sha256 {digest})")
    for extra in sorted(names - set(listed) - {"manifest.json", "manifest.sig"}):
        problems.append(f"{extra}: not listed in the manifest (added)")

    # 2 and 3. The chain segment and the events behind it.
    raw = manifest.get("raw_events")
    if raw and raw.get("first_seq") is not None:
        problems += verify_chain(export, raw)

    # 4. Signature.
    if "manifest.sig" in names:
        with export.open("manifest.sig") as handle:
            sig = json.loads(handle.read())
        if public_key and sig.get("public_key") != public_key:
            problems.append("manifest.sig: signed with another key than the one expected")
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError:
            print("note: manifest.sig present but not checked (pip install cryptography to check Ed25519)")
        else:
            try:
                Ed25519PublicKey.from_public_bytes(base64.b64decode(sig["public_key"])).verify(
                    base64.b64decode(sig["signature"]), manifest_bytes)
            except InvalidSignature:
                problems.append("manifest.sig: the signature does not match manifest.json")
    elif public_key:
        problems.append("manifest.sig: missing, but a signed export was expected")
    return problems


def verify_chain(export: Export, raw: dict) -> list[str]:
    problems: list[str] = []
    entries: dict[str, int] = {}
    order: list[str] = []
    expired: set[str] = set()
    previous, expected = raw["chain_previous_hash"], raw["first_seq"]
    with export.open("chain.csv") as handle:
        for row in csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8")):
            seq = int(row["seq"])
            if seq != expected:
                problems.append(f"chain.csv: sequence jumps from {expected - 1} to {seq}")
            previous = hashlib.sha256(f"{previous}:{row['content_hash']}".encode()).hexdigest()
            if previous != row["chain_hash"]:
                problems.append(f"chain.csv: entry {seq} does not follow from the entry before")
                previous = row["chain_hash"]
            entries[row["content_hash"]] = seq
            order.append(row["content_hash"])
            if row.get("expired_at"):
                expired.add(row["content_hash"])
            expected = seq + 1
    if expected - 1 != raw["last_seq"]:
        problems.append(f"chain.csv: ends at entry {expected - 1}, the manifest says {raw['last_seq']} (truncated)")
    if previous != raw["chain_last_hash"]:
        problems.append("chain.csv: the recomputed chain does not end at the manifest's chain_last_hash")

    seen_seq, count = 0, 0
    found: set[str] = set()
    with export.open("events.ndjson") as handle:
        for number, line in enumerate(handle, start=1):
            body = line.rstrip(b"\n")
            h = hashlib.sha256(body).hexdigest()
            count += 1
            seq = entries.get(h)
            if seq is None:
                problems.append(f"events.ndjson line {number}: not in the chain (changed or inserted)")
            elif h in found:
                problems.append(f"events.ndjson line {number}: duplicate of an earlier line")
            elif seq < seen_seq:
                problems.append(f"events.ndjson line {number}: out of chain order (reordered)")
            else:
                seen_seq = seq
                found.add(h)
    if count != raw["count"]:
        problems.append(f"events.ndjson: {count} events, the manifest says {raw['count']}")
    if raw.get("complete_range"):
        missing = [entries[h] for h in order if h not in found and h not in expired]
        if missing:
            problems.append(f"events.ndjson: {len(missing)} chain entries have no event (removed), first at {missing[0]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--public-key", help="base64 Ed25519 public key the export must be signed with")
    args = parser.parse_args()
    problems = verify(args.export, args.public_key)
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        return 1
    print(f"OK {args.export}: every file matches its manifest and the chain recomputes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
