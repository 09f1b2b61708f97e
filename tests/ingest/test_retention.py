"""Retention: never silently shorter than six months; expired events leave explainable tombstones."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from catalog.exports import ExportRequest, stream_export
from ingest.models import RawEvent
from ingest.retention import RetentionError, apply_retention, retention_days, set_retention
from ingest.sealing import verify
from orgs.models import AuditEntry
from tests.conftest import post_event
from tests.events import at, run_event

pytestmark = pytest.mark.django_db
VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify_export.py"


def test_default_is_the_regulatory_minimum(tenant):
    assert retention_days(tenant.org) == 183


def test_shorter_than_six_months_needs_an_explicit_override(tenant):
    with pytest.raises(RetentionError, match="regulatory minimum"):
        set_retention(org=tenant.org, days=30)
    assert retention_days(tenant.org) == 183
    set_retention(org=tenant.org, days=30, below_minimum=True, actor="ops")
    entry = AuditEntry.objects.get(action="retention.set")
    assert entry.after == {"days": 30, "below_regulatory_minimum": True}
    with pytest.raises(CommandError, match="regulatory minimum"):
        call_command("set_retention", "acme", "10", stdout=io.StringIO())


def test_expired_events_become_tombstones_and_the_chain_still_verifies(tenant, tmp_path):
    client = Client()
    for i in range(5):
        post_event(client, tenant.key, run_event("START", f"r{i}", time=at(i)))
    old = list(RawEvent.objects.order_by("chain_seq").values_list("pk", flat=True)[:2])
    RawEvent.objects.filter(pk__in=old).update(received_at=timezone.now() - timedelta(days=200))

    assert apply_retention(org=tenant.org) == 2
    assert apply_retention(org=tenant.org) == 0
    assert set(RawEvent.objects.filter(expired_at__isnull=False).values_list("pk", flat=True)) == set(old)
    assert RawEvent.objects.filter(pk__in=old, body="").count() == 2
    verdict = verify(tenant.org)
    assert verdict.ok and verdict.expired == 2 and verdict.checked == 5
    assert AuditEntry.objects.get(action="retention.apply").after["expired"] == 2

    path = tmp_path / "raw.zip"
    path.write_bytes(b"".join(stream_export(ExportRequest(org=tenant.org, kind="raw", actor_label="t"))))
    result = subprocess.run([sys.executable, str(VERIFIER), str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    chain_csv = zipfile.ZipFile(path).read("chain.csv").decode().splitlines()
    assert len(chain_csv) == 6 and sum(1 for line in chain_csv[1:] if not line.endswith(",")) == 2
    assert len(zipfile.ZipFile(path).read("events.ndjson").splitlines()) == 3
