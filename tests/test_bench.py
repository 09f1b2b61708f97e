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


def _burn(seconds: float) -> None:
    import time

    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_cpu_meter_counts_processes_that_ended_through_their_parent():
    import multiprocessing
    import os

    from bench.management.commands.bench import CpuMeter

    meter = CpuMeter(me=lambda: [os.getpid()])
    for _ in range(2):  # it sums over every time it is entered
        with meter:
            child = multiprocessing.get_context("fork").Process(target=_burn, args=(0.3,))
            child.start()
            child.join()
    assert 0.5 <= meter.used["me"] < 5
    assert meter.note(1000).startswith("me ") and meter.note(1000).endswith(" µs CPU/event")


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
    # Where the time went, beside the figures: the servers' and PostgreSQL's CPU per event.
    for figure in ("single-event ingest", "batch ingest", "normalization, one worker"):
        [line] = [line for line in table.splitlines() if figure in line]
        assert "postgres" in line and "µs CPU/event" in line, line
