"""Exports an auditor can hand over: streamed in constant memory, each a zip whose manifest says
who exported what, when, with which filters, how many records, the SHA-256 of every file, and the
stretch of the organization's tamper-evident chain the raw events cover.

Kinds:
- `lineage`: one record per run-asset relationship (with its workload), as CSV or JSON Lines;
- `raw`: the raw OpenLineage events exactly as stored (NDJSON, replayable) with their chain;
- `catalog`: the datasets, models and workloads tables as CSV;
- `evidence`: for one asset, its complete upstream lineage, the raw events behind each edge, the
  governance history that applied, a W3C PROV-JSON document, and the chain segment.

`tools/verify_export.py` checks any of them offline with Python's standard library.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import uuid
import zipfile
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Max, Min
from django.utils import timezone

from catalog import prov
from catalog.models import Asset, AssetKind, RunAsset, SchemaVersion, Workload
from clouds.models import Cloud, LineageToggleChange
from ingest.models import ChainSeal, RawEvent
from lineage_project.statements import unlimited_statements
from orgs.models import AuditEntry, Organization

FORMAT = "lineage-export/1"
KINDS = ("lineage", "raw", "catalog", "evidence")
CHUNK = 2000
# Cells a spreadsheet would read as a formula; prefixed with ' so they stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

LINEAGE_COLUMNS = [
    "run_id", "job_namespace", "job_name", "run_state", "run_started_at", "run_ended_at", "direction",
    "first_seen_at", "last_seen_at",
    "workload_type", "workload_id", "workload_name", "workload_owner", "workload_status", "cloud", "project",
    "ray_version", "python_version", "os_version", "code_location",
    "asset_kind", "asset_namespace", "asset_name", "asset_uri", "asset_type", "asset_schema_version",
]


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


@dataclass
class Filters:
    cloud: int | None = None
    project: int | None = None
    created_by: str = ""
    asset: int | None = None
    workload: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items() if v not in (None, "")}


# --- Records -------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def lineage_records(org: Organization, filters: Filters, *, edge_ids: Iterable[int] | None = None) -> Iterator[dict]:
    """One record per run-asset edge of the organization, in a stable order, streamed."""
    qs = RunAsset.objects.in_org(org)
    if edge_ids is not None:
        qs = qs.filter(pk__in=list(edge_ids))
    if filters.cloud:
        qs = qs.filter(run__workload__cloud_id=filters.cloud)
    if filters.project:
        qs = qs.filter(run__workload__project_id=filters.project)
    if filters.created_by:
        qs = qs.filter(run__workload__owner_email__iexact=filters.created_by)
    if filters.asset:
        qs = qs.filter(asset_id=filters.asset)
    if filters.workload:
        qs = qs.filter(run__workload_id=filters.workload)
    if filters.since:
        qs = qs.filter(last_seen_at__gte=filters.since)
    if filters.until:
        qs = qs.filter(first_seen_at__lt=filters.until)
    rows = qs.order_by("pk").values_list(
        "pk", "asset_id", "direction", "first_seen_at", "last_seen_at",
        "run__run_id", "run__job__namespace", "run__job__name", "run__state", "run__started_at", "run__ended_at",
        "run__workload__kind", "run__workload__external_id", "run__workload__name", "run__workload__owner_email",
        "run__workload__status", "run__workload__cloud__name", "run__workload__project__name", "run__workload__attrs",
        "asset__kind", "asset__namespace", "asset__name", "asset__uri", "asset__dataset_type",
    )
    chunk: list[tuple] = []
    for row in rows.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield from _lineage_chunk(chunk)
            chunk = []
    yield from _lineage_chunk(chunk)


def _lineage_chunk(chunk: list[tuple]) -> Iterator[dict]:
    if not chunk:
        return
    # The schema version an edge saw: the latest version first seen at or before the edge's last sighting.
    versions: dict[int, list[datetime]] = {}
    for asset_id, seen in SchemaVersion.objects.filter(asset_id__in={r[1] for r in chunk}).order_by(
        "asset_id", "first_seen_at", "id"
    ).values_list("asset_id", "first_seen_at"):
        versions.setdefault(asset_id, []).append(seen)
    for (_, asset_id, direction, first, last, run_id, job_ns, job_name, state, started, ended, wl_kind, wl_id,
         wl_name, owner, wl_status, cloud, project, wl_attrs, a_kind, a_ns, a_name, a_uri, a_type) in chunk:
        seen = versions.get(asset_id, [])
        attrs = wl_attrs or {}
        code = attrs.get("code_location") or {}
        yield {
            "run_id": str(run_id), "job_namespace": job_ns, "job_name": job_name, "run_state": state,
            "run_started_at": _iso(started), "run_ended_at": _iso(ended),
            "direction": "input" if direction == "in" else "output",
            "first_seen_at": _iso(first), "last_seen_at": _iso(last),
            "workload_type": wl_kind, "workload_id": wl_id, "workload_name": wl_name, "workload_owner": owner,
            "workload_status": wl_status, "cloud": cloud, "project": project or "",
            "ray_version": attrs.get("ray_version", ""), "python_version": attrs.get("python_version", ""),
            "os_version": attrs.get("os_version", ""),
            "code_location": " ".join(str(code[k]) for k in ("url", "version") if code.get(k)),
            "asset_kind": a_kind, "asset_namespace": a_ns, "asset_name": a_name, "asset_uri": a_uri,
            "asset_type": a_type, "asset_schema_version": bisect_right(seen, last) if seen else "",
        }


CATALOG_COLUMNS = {
    "datasets": ["id", "name", "namespace", "uri", "dataset_type", "cloud", "project", "created_by", "created_at", "updated_at"],
    "models": ["id", "name", "namespace", "uri", "dataset_type", "cloud", "project", "created_by", "created_at", "updated_at"],
    "workloads": ["id", "external_id", "kind", "name", "status", "owner_email", "cloud", "project", "created_at", "updated_at"],
}


def catalog_records(org: Organization, table: str) -> Iterator[dict]:
    if table == "workloads":
        qs = Workload.objects.in_org(org)
    else:
        qs = Asset.objects.in_org(org).filter(kind=AssetKind.MODEL if table == "models" else AssetKind.DATASET)
    columns = [c for c in CATALOG_COLUMNS[table] if c not in ("cloud", "project")]
    for row in qs.order_by("pk").values(*columns, "cloud__name", "project__name").iterator(chunk_size=CHUNK):
        row["cloud"], row["project"] = row.pop("cloud__name"), row.pop("project__name")
        yield {c: (_iso(row[c]) if isinstance(row[c], datetime) else row[c]) for c in CATALOG_COLUMNS[table]}


# --- The chain segment behind raw events --------------------------------------------------------


def _sealed(org: Organization, *, run_ids: Iterable[str] | None = None, since: datetime | None = None,
            until: datetime | None = None):
    qs = RawEvent.objects.in_org(org).filter(chain_seq__isnull=False)
    if run_ids is not None:
        qs = qs.filter(run_id__in=list(run_ids))
    if since:
        qs = qs.filter(received_at__gte=since)
    if until:
        qs = qs.filter(received_at__lt=until)
    return qs


def raw_events(org: Organization, **selection) -> Iterator[tuple[int, str, str, str]]:
    """(seq, body, content hash, chain hash) of sealed raw events still held, in chain order."""
    yield from _sealed(org, **selection).filter(expired_at__isnull=True).order_by("chain_seq").values_list(
        "chain_seq", "body", "content_hash", "chain_hash"
    ).iterator(chunk_size=CHUNK)


def chain_segment(org: Organization, first: int, last: int) -> Iterator[tuple[int, str, str, datetime | None]]:
    """(seq, content hash, chain hash, expired at) of every entry from `first` to `last`, bodies left out."""
    yield from (
        RawEvent.objects.in_org(org).filter(chain_seq__gte=first, chain_seq__lte=last).order_by("chain_seq")
        .values_list("chain_seq", "content_hash", "chain_hash", "expired_at").iterator(chunk_size=CHUNK * 5)
    )


def chain_hash_before(org: Organization, seq: int) -> str:
    if seq <= 1:
        return "0" * 64
    return RawEvent.objects.in_org(org).filter(chain_seq=seq - 1).values_list("chain_hash", flat=True).first() or ""


# --- Upstream subgraph for evidence packs -------------------------------------------------------


@dataclass
class Upstream:
    asset_ids: set[int] = field(default_factory=set)
    run_pks: set[int] = field(default_factory=set)
    edge_ids: set[int] = field(default_factory=set)
    truncated: bool = False


def upstream_of(asset: Asset, *, max_runs: int = 20_000) -> Upstream:
    """Every run, asset and edge the asset derives from. A producing run counts only if it wrote
    the input before the consuming run last read it, so lineage never runs backwards in time."""
    up = Upstream(asset_ids={asset.pk})
    frontier: dict[int, datetime | None] = {asset.pk: None}  # asset -> latest time it can have been written
    while frontier and not up.truncated:
        writers = RunAsset.objects.filter(asset_id__in=list(frontier), direction="out").values_list(
            "pk", "run_id", "asset_id", "first_seen_at"
        )
        new_runs: set[int] = set()
        for pk, run_pk, asset_id, first in writers:
            bound = frontier[asset_id]
            if bound is not None and first > bound:
                continue
            up.edge_ids.add(pk)
            if run_pk not in up.run_pks:
                new_runs.add(run_pk)
        up.run_pks |= new_runs
        if len(up.run_pks) > max_runs:
            up.truncated = True
        frontier = {}
        for pk, asset_id, last in RunAsset.objects.filter(run_id__in=new_runs, direction="in").values_list(
            "pk", "asset_id", "last_seen_at"
        ):
            up.edge_ids.add(pk)
            if asset_id not in up.asset_ids or (asset_id in frontier and last > frontier[asset_id]):
                frontier[asset_id] = max(last, frontier.get(asset_id) or last)
            up.asset_ids.add(asset_id)
    return up


def governance_history(org: Organization, cloud_ids: Iterable[int]) -> dict:
    clouds = list(Cloud.objects.filter(org=org, pk__in=list(cloud_ids)).order_by("name"))
    return {
        "organization": {
            "slug": org.slug,
            "lineage_beta_enabled_now": org.lineage_beta_enabled,
            "beta_changes": [
                {"at": _iso(e.created_at), "by": e.actor_label, "before": e.before, "after": e.after,
                 "request_id": e.request_id}
                for e in AuditEntry.objects.filter(org=org, action="org.lineage_beta", allowed=True).order_by("created_at", "id")
            ],
        },
        "clouds": [
            {"name": c.name, "id": c.public_id,
             "lineage_toggle_changes": [
                 {"at": _iso(t.changed_at), "enabled": t.enabled, "by": t.actor_label}
                 for t in LineageToggleChange.objects.filter(cloud=c).order_by("changed_at", "id")
             ]}
            for c in clouds
        ],
    }


# --- Writing files, manifests and zips --------------------------------------------------------------


class _Pipe(io.RawIOBase):
    """A write-only stream whose bytes the zip generator hands out as it goes (no seek, no tell)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


@dataclass
class _FileStats:
    sha256: Any = field(default_factory=hashlib.sha256)
    bytes: int = 0
    records: int = 0


def csv_lines(columns: list[str], records: Iterable[dict]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for record in records:
        writer.writerow([safe_cell(record.get(c)) for c in columns])
        if buffer.tell() > 64_000:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def jsonl_lines(records: Iterable[dict]) -> Iterator[bytes]:
    for record in records:
        yield (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode()


@dataclass
class ExportRequest:
    org: Organization
    kind: str
    actor_label: str
    filters: Filters = field(default_factory=Filters)
    fmt: str = "csv"  # csv | jsonl, for lineage records
    asset: Asset | None = None  # for evidence packs
    request_id: str = ""
    export_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def filename(self) -> str:
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        return f"{self.org.slug}-{self.kind}-{stamp}-{self.export_id[:8]}.zip"


def stream_export(req: ExportRequest) -> Iterator[bytes]:
    """The export as a zip, produced piece by piece: memory stays flat whatever its size. Its
    statements read whole tables, so the web statement timeout does not apply to them."""
    with unlimited_statements():
        yield from _zip_stream(req)


def _zip_stream(req: ExportRequest) -> Iterator[bytes]:
    pipe = _Pipe()
    stats: dict[str, _FileStats] = {}
    manifest: dict[str, Any] = {
        "format": FORMAT, "export_id": req.export_id, "kind": req.kind,
        "organization": {"slug": req.org.slug, "name": req.org.name},
        "exported_by": req.actor_label, "exported_at": timezone.now().isoformat(), "request_id": req.request_id,
        "filters": req.filters.as_dict(), "truncated": False,
    }
    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=5) as zf:
        def add(name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
            st = stats.setdefault(name, _FileStats())
            with zf.open(name, mode="w", force_zip64=True) as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    st.sha256.update(chunk)
                    st.bytes += len(chunk)
                    if pipe.chunks:
                        yield pipe.drain()
            yield pipe.drain()

        for name, chunks, counter in _files_for(req, manifest):
            yield from add(name, chunks)
            stats[name].records = counter()
        manifest["files"] = {
            name: {"sha256": st.sha256.hexdigest(), "bytes": st.bytes, "records": st.records} for name, st in stats.items()
        }
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
        zf.writestr("manifest.json", manifest_bytes)
        signature = sign(manifest_bytes)
        if signature is not None:
            zf.writestr("manifest.sig", signature)
    yield pipe.drain()


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def count(self, items: Iterable) -> Iterator:
        for item in items:
            self.n += 1
            yield item

    def __call__(self) -> int:
        return self.n


def _files_for(req: ExportRequest, manifest: dict) -> Iterator[tuple[str, Iterator[bytes], Any]]:
    org = req.org
    if req.kind == "lineage":
        counter = _Counter()
        records = counter.count(lineage_records(org, req.filters))
        if req.fmt == "jsonl":
            yield "lineage.jsonl", jsonl_lines(records), counter
        else:
            yield "lineage.csv", csv_lines(LINEAGE_COLUMNS, records), counter
    elif req.kind == "catalog":
        for table in ("datasets", "models", "workloads"):
            counter = _Counter()
            yield f"{table}.csv", csv_lines(CATALOG_COLUMNS[table], counter.count(catalog_records(org, table))), counter
    elif req.kind == "raw":
        selection = {"since": req.filters.since, "until": req.filters.until}
        bounds = _sealed(org, **selection).aggregate(first=Min("chain_seq"), last=Max("chain_seq"))
        yield from _raw_files(org, manifest, raw_events(org, **selection), bounds=(bounds["first"], bounds["last"]))
    elif req.kind == "evidence":
        yield from _evidence_files(req, manifest)
    else:
        raise ValueError(f"unknown export kind {req.kind!r}")


def _raw_files(org: Organization, manifest: dict, events: Iterator[tuple[int, str, str, str]], *,
               bounds: tuple[int | None, int | None] | None = None):
    """events.ndjson (bodies exactly as stored) and chain.csv (every chain entry of the range).

    With `bounds` the export is a complete range of the chain (tombstones included in chain.csv);
    without, the range is whatever the selected events span (an evidence pack's subset)."""
    full = bounds is not None
    span = {"count": 0, "first_seq": bounds[0] if full else None, "last_seq": bounds[1] if full else None}
    counter = _Counter()

    def bodies() -> Iterator[bytes]:
        for seq, body, _, _ in events:
            if not full:
                span["first_seq"] = span["first_seq"] or seq
                span["last_seq"] = seq
            span["count"] += 1
            counter.n += 1
            yield body.encode() + b"\n"

    yield "events.ndjson", bodies(), counter
    head = ChainSeal.objects.filter(org=org).order_by("-seq").first()
    manifest["raw_events"] = {
        "count": span["count"],
        "expired_in_range": RawEvent.objects.in_org(org).filter(
            chain_seq__gte=span["first_seq"] or 0, chain_seq__lte=span["last_seq"] or 0, expired_at__isnull=False
        ).count() if full else None, "first_seq": span["first_seq"], "last_seq": span["last_seq"],
        "complete_range": full,
        "chain_previous_hash": chain_hash_before(org, span["first_seq"]) if span["first_seq"] else None,
        "chain_last_hash": None,
        "chain_rule": "hash(n) = sha256(hash(n-1) + ':' + sha256(event line without newline)), hash(0) = 64 zeros",
        "head_at_export": {"seq": head.seq, "hash": head.head_hash, "sealed_at": _iso(head.sealed_at)} if head else None,
    }
    if span["first_seq"] is None or (span["count"] == 0 and not full):
        return
    segment_counter = _Counter()

    def segment() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["seq", "content_hash", "chain_hash", "expired_at"])
        last = None
        for seq, content_hash, chain_hash, expired_at in chain_segment(org, span["first_seq"], span["last_seq"]):
            writer.writerow([seq, content_hash, chain_hash, _iso(expired_at)])
            segment_counter.n += 1
            last = chain_hash
            if buffer.tell() > 64_000:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        manifest["raw_events"]["chain_last_hash"] = last
        yield buffer.getvalue().encode()

    yield "chain.csv", segment(), segment_counter


def _evidence_files(req: ExportRequest, manifest: dict):
    org, asset = req.org, req.asset
    if asset is None:
        raise ValueError("an evidence pack needs an asset")
    up = upstream_of(asset)
    manifest["truncated"] = up.truncated
    manifest["subject"] = {"kind": asset.kind, "id": asset.pk, "namespace": asset.namespace, "name": asset.name,
                           "uri": asset.uri}
    records = list(lineage_records(org, Filters(), edge_ids=up.edge_ids))
    yield "lineage.csv", csv_lines(LINEAGE_COLUMNS, records), lambda: len(records)
    yield "lineage.jsonl", jsonl_lines(records), lambda: len(records)
    document = prov.document(org, asset, records)
    yield "prov.json", iter([json.dumps(document, indent=2, sort_keys=True).encode()]), lambda: len(records)
    cloud_ids = set(Workload.objects.filter(org=org, runs__pk__in=up.run_pks).values_list("cloud_id", flat=True))
    history = governance_history(org, cloud_ids)
    yield "governance.json", iter([json.dumps(history, indent=2, sort_keys=True).encode()]), lambda: len(history["clouds"])
    run_ids = {r["run_id"] for r in records}
    yield from _raw_files(org, manifest, raw_events(org, run_ids=run_ids))


# --- Signing ------------------------------------------------------------------------------------


def signing_key():
    """The Ed25519 key from LINEAGE_EXPORT_SIGNING_KEY (base64 of the 32-byte seed), or None."""
    raw = os.environ.get("LINEAGE_EXPORT_SIGNING_KEY", "")
    if not raw:
        return None
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw))


def public_key_b64() -> str | None:
    key = signing_key()
    if key is None:
        return None
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(manifest_bytes: bytes) -> bytes | None:
    key = signing_key()
    if key is None:
        return None
    return json.dumps({"algorithm": "Ed25519", "public_key": public_key_b64(),
                       "signature": base64.b64encode(key.sign(manifest_bytes)).decode()}).encode()

