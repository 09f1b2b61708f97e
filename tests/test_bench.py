"""The benchmarks keep working: the quick version runs every figure against real services and
prints the table. Speed itself is reported, never asserted."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from bench.generator import events


def test_generated_events_are_valid_and_deterministic():
    from ingest.contract import parse_event

    first = list(events(60, seed=3))
    assert first == list(events(60, seed=3))
    assert len(first) == 60
    assert all(parse_event(e).kind == "run" for e in first)
    assert any(o["facets"].get("mlflowModel") for e in first for o in e["outputs"])


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_quick_benchmark_reports_every_figure():
    out = io.StringIO()
    call_command("bench", "all", "--quick", stdout=out)
    table = out.getvalue()
    for figure in ("single-event ingest", "batch ingest", "normalization, one worker", "worker RSS",
                   "ingest-to-catalog lag", "export of 5,000 lineage records", "export of 2,000 raw events",
                   "graph: expand one node (depth 1): database time p95", "graph: depth 5: whole request p95",
                   "graph: impact analysis, 10 hops: database time p95", "Datasets page, every filter",
                   "Models page, every filter", "Workloads page, every filter"):
        assert figure in table, table
