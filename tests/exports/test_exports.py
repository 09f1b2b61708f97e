"""Exports: they match the catalog, open cleanly, and the offline verifier catches any tampering."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from catalog.exports import ExportRequest, Filters, safe_cell, stream_export
from catalog.models import Asset, RunAsset
from ingest.models import RawEvent
from orgs.models import AuditEntry
from tests.catalog.test_normalize import history
from tests.conftest import post_event
from tests.events import at, dataset, run_event, workload

pytestmark = pytest.mark.django_db
VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify_export.py"


@pytest.fixture
def catalog(tenant):
    client = Client()
    for event in history():
        post_event(client, tenant.key, event)
    # A name a spreadsheet would run as a formula.
    post_event(client, tenant.key, run_event("COMPLETE", "evil", time=at(60), workload_facet=workload("=cmd|' /C calc'!A0"),
                                             outputs=[dataset("s3://b", "@SUM(1+1)")]))
    return tenant


def export(org, kind, tmp_path, **kw) -> Path:
    path = tmp_path / f"{kind}.zip"
    path.write_bytes(b"".join(stream_export(ExportRequest(org=org, kind=kind, actor_label="test", **kw))))
    return path


def verify(path: Path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(VERIFIER), str(path), *extra], capture_output=True, text=True, timeout=60)


def rows(path: Path, name: str) -> list[dict]:
    with zipfile.ZipFile(path) as zf:
        return list(csv.DictReader(io.TextIOWrapper(zf.open(name), encoding="utf-8")))


def test_lineage_csv_matches_the_catalog_and_is_formula_safe(catalog, tmp_path):
    path = export(catalog.org, "lineage", tmp_path)
    records = rows(path, "lineage.csv")
    assert len(records) == RunAsset.objects.filter(org=catalog.org).count()
    got = {(r["run_id"], r["asset_uri"], r["direction"]) for r in records}
    want = {(str(e.run.run_id), e.asset.uri, "input" if e.direction == "in" else "output")
            for e in RunAsset.objects.select_related("run", "asset")}
    assert got == want
    assert any(r["asset_name"] == "'@SUM(1+1)" for r in records)
    assert any(r["workload_id"] == "'=cmd|' /C calc'!A0" for r in records)
    assert all(not (v or "").startswith(("=", "+", "@")) for r in records for v in r.values())
    trained = [r for r in records if r["asset_name"] == "models/m-123" and r["direction"] == "output"]
    assert trained[0]["workload_owner"] == "bo@acme.test" and trained[0]["ray_version"] == "2.49.0"
    features_reads = {r["asset_schema_version"] for r in records if r["asset_name"].endswith("features/daily")
                      and r["workload_id"] == "wl-train"}
    assert features_reads == {"1", "2"}  # the failed run saw the first schema, the retrain the second
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    assert manifest["files"]["lineage.csv"]["records"] == len(records)


def test_lineage_jsonl_and_filters(catalog, tmp_path):
    wl = catalog.org.workloads.get(external_id="wl-serve")
    path = export(catalog.org, "lineage", tmp_path, fmt="jsonl", filters=Filters(workload=wl.pk))
    lines = zipfile.ZipFile(path).read("lineage.jsonl").decode().splitlines()
    assert [json.loads(x)["asset_name"] for x in lines] == ["models/m-123"]
    assert json.loads(zipfile.ZipFile(path).read("manifest.json"))["filters"] == {"workload": wl.pk}


def test_catalog_tables(catalog, tmp_path):
    path = export(catalog.org, "catalog", tmp_path)
    assert len(rows(path, "datasets.csv")) == Asset.objects.filter(kind="dataset").count()
    assert [r["name"] for r in rows(path, "models.csv")] == ["models/m-123"]
    assert len(rows(path, "workloads.csv")) == catalog.org.workloads.count()


def test_raw_export_is_replayable_and_verifies(catalog, tmp_path):
    path = export(catalog.org, "raw", tmp_path)
    result = verify(path)
    assert result.returncode == 0, result.stdout
    lines = zipfile.ZipFile(path).read("events.ndjson").splitlines()
    assert len(lines) == RawEvent.objects.filter(org=catalog.org).count()
    assert [json.loads(x) for x in lines] == [json.loads(b) for b in
                                              RawEvent.objects.order_by("chain_seq").values_list("body", flat=True)]


def test_evidence_pack_holds_the_model_upstream(catalog, tmp_path):
    model = Asset.objects.get(name="models/m-123")
    path = export(catalog.org, "evidence", tmp_path, asset=model)
    assert verify(path).returncode == 0
    records = rows(path, "lineage.csv")
    # The model, the training runs' inputs, and what produced those: ingest from raw.
    assert {r["asset_name"] for r in records} == {"models/m-123", "/mnt/shared_storage/features/daily",
                                                   "events/2026-11-01.csv"}
    assert {r["workload_id"] for r in records} == {"wl-train", "wl-ingest"}  # not the service that loads it
    zf = zipfile.ZipFile(path)
    prov = json.loads(zf.read("prov.json"))
    assert f"lin:asset/{model.uri}" in prov["entity"] and prov["wasGeneratedBy"] and prov["used"]
    assert any(d["prov:generatedEntity"] == f"lin:asset/{model.uri}" for d in prov["wasDerivedFrom"].values())
    governance = json.loads(zf.read("governance.json"))
    assert governance["clouds"][0]["lineage_toggle_changes"][0]["enabled"] is True
    assert governance["organization"]["beta_changes"][0]["after"] == {"enabled": True}
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["raw_events"]["count"] == len(zf.read("events.ndjson").splitlines()) > 0
    assert manifest["subject"]["uri"] == model.uri


def rewrite(path: Path, name: str, change) -> Path:
    """Copy the zip with one member changed by `change(bytes) -> bytes`."""
    out = path.with_name(f"tampered-{name.replace('/', '_')}.zip")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            dst.writestr(item, change(data) if item == name else data)
    return out


def edit_byte(data: bytes) -> bytes:
    i = data.index(b'"name":"') + 8
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]


def drop_line(data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(lines[:1] + lines[2:])


def swap_lines(data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join([lines[1], lines[0], *lines[2:]])


def insert_line(data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join([lines[0], b'{"eventTime":"2026-01-01T00:00:00Z","producer":"forged"}\n', *lines[1:]])


def truncate(data: bytes) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:-2])


def fix_manifest_hashes(path: Path) -> Path:
    """What a forger would do next: recompute the file hashes in the manifest."""
    import hashlib

    out = path.with_name("reforged.zip")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        for name, meta in manifest["files"].items():
            data = src.read(name)
            meta.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
        for item in src.namelist():
            dst.writestr(item, json.dumps(manifest).encode() if item == "manifest.json" else src.read(item))
    return out


@pytest.mark.parametrize("tamper", [edit_byte, drop_line, swap_lines, insert_line, truncate],
                         ids=["edit-byte", "drop", "swap", "insert", "truncate"])
@pytest.mark.parametrize("kind", ["raw", "evidence"])
def test_verifier_rejects_tampering_even_with_a_recomputed_manifest(catalog, tmp_path, tamper, kind):
    model = Asset.objects.get(name="models/m-123")
    path = export(catalog.org, kind, tmp_path, **({"asset": model} if kind == "evidence" else {}))
    tampered = rewrite(path, "events.ndjson", tamper)
    first = verify(tampered)
    assert first.returncode == 1 and "events.ndjson" in first.stdout
    second = verify(fix_manifest_hashes(tampered))
    assert second.returncode == 1, second.stdout  # the chain still gives it away


def test_truncating_the_chain_itself_is_detected(catalog, tmp_path):
    path = fix_manifest_hashes(rewrite(export(catalog.org, "raw", tmp_path), "chain.csv", truncate))
    assert "truncated" in verify(path).stdout


def test_signed_manifest(catalog, tmp_path, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = base64.b64encode(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)).decode()
    monkeypatch.setenv("LINEAGE_EXPORT_SIGNING_KEY", base64.b64encode(seed).decode())
    path = export(catalog.org, "raw", tmp_path)
    assert verify(path, "--public-key", public).returncode == 0
    forged = rewrite(path, "manifest.json", lambda b: b.replace(b'"exported_by": "test"', b'"exported_by": "eve"'))
    assert "signature does not match" in verify(forged).stdout
    assert "another key" in verify(path, "--public-key", base64.b64encode(b"x" * 32).decode()).stdout


def test_command_writes_an_audited_export(catalog, tmp_path):
    out = tmp_path / "pack.zip"
    model = Asset.objects.get(name="models/m-123")
    call_command("export_lineage", "acme", "evidence", "--asset", str(model.pk), "--out", str(out), stdout=io.StringIO())
    assert verify(out).returncode == 0
    entry = AuditEntry.objects.get(action="lineage.export")
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    assert entry.target_id == manifest["export_id"] and entry.after["asset"] == model.uri


def test_safe_cell():
    assert [safe_cell(v) for v in ("=1+2", "+1", "-1", "@x", "\tx", "ok", None, 3)] == \
        ["'=1+2", "'+1", "'-1", "'@x", "'\tx", "ok", "", "3"]
