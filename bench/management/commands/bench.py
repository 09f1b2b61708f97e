"""`manage.py bench ingest|batch|normalize|lag|export|graph|pages|all`: measure against references run on the same
machine in the same run, and print one table.

Needs PostgreSQL and Redis (the configured DATABASE_URL and CELERY_BROKER_URL); builds its own data
in fresh organizations (`bench-...`), so point it at a database you do not mind growing. `--quick`
is the small version CI runs to keep the benchmarks working; it asserts nothing about speed.
"""

from __future__ import annotations

import json
import os
import runpy
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from bench import generator
from bench.load import post_all
from bench.reference import CREATE
from clouds.services import create_cloud, create_ingest_key, set_cloud_lineage
from ingest.models import RawEvent, RawStatus
from orgs.models import Organization
from orgs.services import create_org, set_lineage_beta

ROOT = Path(settings.BASE_DIR)
BENCHES = ("ingest", "batch", "normalize", "lag", "export", "graph", "pages")


@dataclass
class Row:
    figure: str
    values: list[float]
    unit: str
    reference: list[float] = field(default_factory=list)
    goal: str = ""
    goal_met: bool | None = None
    note: str = ""

    def cells(self) -> list[str]:
        def fmt(vs: list[float]) -> str:
            if not vs:
                return ""
            med = statistics.median(vs)
            spread = f" ({min(vs):,.0f}-{max(vs):,.0f})" if len(vs) > 1 else ""
            return f"{med:,.1f}{spread}" if med < 100 else f"{med:,.0f}{spread}"

        ratio = ""
        if self.values and self.reference:
            ratio = f"{statistics.median(self.values) / statistics.median(self.reference):.0%}"
        verdict = {True: "met", False: "NOT met", None: ""}[self.goal_met]
        return [self.figure, f"{fmt(self.values)} {self.unit}", fmt(self.reference), ratio, self.goal, verdict, self.note]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _db_url() -> str:
    d = connection.settings_dict
    return f"postgres://{d['USER'] or 'postgres'}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(DATABASE_URL=_db_url(), CELERY_BROKER_URL=settings.CELERY_BROKER_URL, DJANGO_DEBUG="false",
               DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost", LOG_LEVEL="WARNING", **extra)
    return env


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def _cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user + system, all threads) these processes and their ended children have used
    so far; Linux /proc. A PostgreSQL backend that ends is counted in the server's children's time."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def _processes(match) -> list[int]:
    """Processes whose /proc/<pid>/stat (command name, parent) `match(comm, ppid)` accepts."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                head, rest = (entry / "stat").read_text().rsplit(")", 1)
            except (FileNotFoundError, ProcessLookupError):
                continue
            if match(head.split("(", 1)[1], int(rest.split()[1])):
                pids.append(int(entry.name))
    return pids


def postgres_processes() -> list[int]:
    """The local PostgreSQL server's processes (none if it runs elsewhere)."""
    return _processes(lambda comm, ppid: comm == "postgres")


def children_of(pid: int) -> list[int]:
    return [pid, *_processes(lambda comm, ppid: ppid == pid)]


class CpuMeter:
    """CPU time that groups of processes spend while it is entered (summed over every time it is),
    per event: where a figure's time goes (for example gunicorn's Python against PostgreSQL), read
    from /proc. Processes that start meanwhile count whole; those that end meanwhile count through
    their parent (the PostgreSQL server's backends), which must be in the group. `note()` is empty
    where /proc is not there to read (a database on another machine: no postgres figure)."""

    def __init__(self, **groups):
        self.groups = groups  # name -> a callable listing that group's pids
        self.used: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._start = {name: _cpu_seconds(pids()) for name, pids in self.groups.items()}
        return self

    def __exit__(self, *exc) -> None:
        for name, pids in self.groups.items():
            # A process that ended meanwhile is in its parent's children's time now, whole.
            self.used[name] = self.used.get(name, 0.0) + _cpu_seconds(pids()) - self._start[name]

    def note(self, events: int) -> str:
        if not events or not any(self.used.values()):
            return ""
        return ", ".join(f"{name} {1e6 * cpu / events:,.0f}" for name, cpu in self.used.items()) + " µs CPU/event"


def server_shape() -> str:
    """`<workers>x<threads>` of the production configuration on this machine (gunicorn.conf.py)."""
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    return f"{conf['workers']}x{conf['threads']}"


@contextmanager
def gunicorn():
    """The application as production serves it (gunicorn.conf.py: gthread workers, keep-alive,
    persistent DB connections), with its worker and thread counts on this machine."""
    port = _free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
         "-b", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning"],
        cwd=ROOT, env=_child_env(LINEAGE_BENCH_VIEWS="1"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise CommandError(f"gunicorn exited: {proc.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def celery_worker():
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "lineage_project", "worker", "--pool=solo",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=_child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def tenant(label: str) -> tuple[Organization, str]:
    org, _ = create_org(slug=f"bench-{label}-{uuid.uuid4().hex[:6]}", name=f"Bench {label}")
    set_lineage_beta(org=org, enabled=True)
    cloud, _ = create_cloud(org=org, name="bench-cloud")
    set_cloud_lineage(cloud=cloud, enabled=True, at=timezone.now() - timedelta(days=400))
    _, key = create_ingest_key(cloud=cloud, name="bench")
    return org, key


def bodies(n: int, seed: int, org: Organization | None = None) -> list[bytes]:
    """Events for one bench organization (project ids are global, so each org names its own)."""
    start = timezone.now() - timedelta(days=30)
    prefix = f"prj_{org.slug}" if org else "prj_bench"
    return [json.dumps(e).encode() for e in generator.events(n, seed=seed, start=start, project_prefix=prefix,
                                                              cluster_started=start - timedelta(hours=1))]


def copy_rate(events: list[bytes]) -> float:
    """PostgreSQL COPY of the same events into one jsonb table: events/s."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS bench_copy (body jsonb NOT NULL)")
        cursor.execute("TRUNCATE bench_copy")
        raw = cursor.cursor  # the psycopg cursor, for COPY
        t = time.perf_counter()
        with raw.copy("COPY bench_copy (body) FROM STDIN") as copy:
            for body in events:
                copy.write_row((body.decode(),))
        seconds = time.perf_counter() - t
    return len(events) / seconds


def pending(org_ids: list[int]) -> int:
    return RawEvent.objects.filter(org_id__in=org_ids, status=RawStatus.PENDING).count()


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser):
        parser.add_argument("which", choices=[*BENCHES, "all"])
        parser.add_argument("--quick", action="store_true", help="Tiny sizes: checks the benchmarks run (CI)")
        parser.add_argument("--events", type=int, help="Events per ingest repetition (default 3000; quick 200)")
        parser.add_argument("--repeat", type=int, help="Repetitions (default 3; quick 1)")
        parser.add_argument("--clients", type=int, default=4, help="Concurrent client processes of the ingest benches, single events and batches")
        parser.add_argument("--normalize-events", type=int,
                            help="Generated backlog for the normalize bench, besides the ingest benches' (default 100k)")
        parser.add_argument("--export-records", type=int, help="Lineage records for the export bench (default 1M)")
        parser.add_argument("--export-raw-events", type=int, help="Raw events for the export bench (default 250k)")

    def handle(self, which, quick, events, repeat, clients, normalize_events, export_records, export_raw_events,
               **options):
        if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL:
            raise CommandError("benchmarks need PostgreSQL and Redis: set DATABASE_URL and CELERY_BROKER_URL")
        self.n = events or (200 if quick else 3000)
        self.repeat = repeat or (1 if quick else 3)
        self.clients = clients
        self.normalize_events = normalize_events or (2_000 if quick else 100_000)
        self.export_records = export_records or (5_000 if quick else 1_000_000)
        self.export_raw_events = export_raw_events or (2_000 if quick else 250_000)
        self.quick = quick
        self.rows: list[Row] = []
        self.state: dict = {}
        with connection.cursor() as cursor:
            cursor.execute(CREATE)
        started = time.monotonic()
        chosen = BENCHES if which == "all" else (which,)
        if "lag" in chosen and "ingest" not in chosen:
            chosen = ("ingest", *chosen)
        for name in chosen:
            getattr(self, f"bench_{name}")()
        self.print_table(time.monotonic() - started)

    # --- Benchmarks -------------------------------------------------------------------------

    @staticmethod
    def meter(**groups) -> CpuMeter:
        """CPU of these processes and of the local PostgreSQL server, summed over the repetitions.
        The load generator's clients are this process's children: they count in its own figure
        once they have ended."""
        return CpuMeter(**groups, postgres=postgres_processes)

    @staticmethod
    def cpu_note(ours: CpuMeter, reference: CpuMeter | None, events: int) -> str:
        note = ours.note(events)
        if note and reference is not None and reference.note(events):
            note += f"; reference: {reference.note(events)}"
        return note

    def bench_ingest(self):
        org, key = tenant("ingest")
        self.state["orgs"] = [org.pk]
        total = self.n * self.repeat
        all_bodies = bodies(total + 200, seed=11, org=org)
        self.state["event_bytes"] = statistics.mean(len(b) for b in all_bodies)
        ours, ref = [], []
        with gunicorn() as (port, pid):
            post_all("127.0.0.1", port, "/api/v1/lineage", all_bodies[:100], key=key, clients=self.clients)  # warm up
            post_all("127.0.0.1", port, "/bench/reference-insert", all_bodies[100:200], clients=self.clients)
            ours_cpu, ref_cpu = (self.meter(gunicorn=lambda: children_of(pid), clients=lambda: [os.getpid()])
                                 for _ in range(2))
            for i in range(self.repeat):
                chunk = all_bodies[200 + i * self.n: 200 + (i + 1) * self.n]
                with ours_cpu:
                    result = post_all("127.0.0.1", port, "/api/v1/lineage", chunk, key=key, clients=self.clients)
                if set(result.statuses) != {201}:
                    raise CommandError(f"ingest answered {result.statuses}")
                ours.append(result.rate)
                with ref_cpu:
                    ref.append(post_all("127.0.0.1", port, "/bench/reference-insert", chunk, clients=self.clients).rate)
        self.state["ingest_peak"] = statistics.median(ours)
        self.state["ingested"] = total + 100
        self.rows.append(Row(f"single-event ingest, {self.clients} clients, gunicorn {server_shape()}", ours, "events/s", ref,
                             "≥ 70% of a bare DRF INSERT view", statistics.median(ours) >= 0.7 * statistics.median(ref),
                             self.cpu_note(ours_cpu, ref_cpu, total)))

    def bench_batch(self):
        org, key = tenant("batch")
        self.state.setdefault("orgs", []).append(org.pk)
        size = 500 if not self.quick else 50

        def batches(events: list[bytes]) -> list[bytes]:
            return [b"[" + b",".join(events[i:i + size]) + b"]" for i in range(0, len(events), size)]

        # Each repetition posts 10x the single-event bench's events (30,000 by default, ~2 s): at
        # 2x, a repetition lasted ~0.3 s and read 5-10 points higher than a longer one, and varied
        # by 25% from one to the next. As many clients as the single-event bench: with 2, the
        # server's cores idled while both requests waited (sending 1.4 MB, the commit's flush).
        per_repeat = self.n * 10
        rates, copies = [], []
        with gunicorn() as (port, pid):
            # Warm up as the single-event bench does: each of the server's 8 threads opens its
            # database connection and creates its stage table on its first batch (about 3x slower).
            post_all("127.0.0.1", port, "/api/v1/lineage/batch", batches(bodies(size * 16, seed=21, org=org)),
                     key=key, clients=self.clients)
            ours_cpu = self.meter(gunicorn=lambda: children_of(pid), clients=lambda: [os.getpid()])
            copy_cpu = self.meter(client=lambda: [os.getpid()])
            for i in range(self.repeat):
                # New events each repetition: the same again would be duplicates.
                events = bodies(per_repeat, seed=22 + i, org=org)
                with ours_cpu:
                    result = post_all("127.0.0.1", port, "/api/v1/lineage/batch", batches(events), key=key,
                                      clients=self.clients)
                if set(result.statuses) != {200}:
                    raise CommandError(f"batch answered {result.statuses}")
                rates.append(len(events) / result.seconds)
                with copy_cpu:
                    copies.append(copy_rate(events))
        self.state["copy"] = copies
        self.state["copy_cpu"] = copy_cpu.note(per_repeat * self.repeat)
        self.rows.append(Row(f"batch ingest ({size} events a request, {self.clients} clients, gunicorn {server_shape()})", rates, "events/s", copies,
                             "≥ 60% of COPY into jsonb", statistics.median(rates) >= 0.6 * statistics.median(copies),
                             self.cpu_note(ours_cpu, copy_cpu, per_repeat * self.repeat)))

    def bench_normalize(self):
        """One worker drains a backlog: what the ingest benches stored plus a generated history
        loaded as pending raw events, as ingest stores them (the worker also seals them)."""
        from bench import bulk
        from ingest.tasks import normalize_events

        org, _ = tenant("normalize")
        if connection.vendor == "postgresql":
            # Statistics as production has them when an outage leaves a backlog: taken while the
            # queue was quiet, before the backlog (the claim once read the whole backlog per batch
            # under such statistics; ingest migration 0007).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE ingest_rawevent")
        t = time.perf_counter()
        bulk.raw_events(org, self.normalize_events, pending=True, seed=55)
        built = time.perf_counter() - t
        orgs = [*self.state.get("orgs", []), org.pk]
        backlog = pending(orgs)
        copies = self.state.get("copy") or [copy_rate(bodies(5000, seed=33))]
        samples: list[tuple[int, float]] = []  # (events left, RSS MB)
        pending_rows = RawEvent.objects.filter(org_id__in=orgs, status=RawStatus.PENDING)
        # Timed from the worker's launch, its start-up included (~1-2 s of CPU): a worker started
        # later would find the backlog half drained by the tasks the ingest benches queued.
        with celery_worker() as worker, self.meter(worker=lambda: [worker.pid]) as cpu:
            normalize_events.delay([])  # the generated backlog came in behind ingest's back
            t = time.perf_counter()
            left, counted = backlog, t
            # Counting a large backlog costs the database a scan, so count every few seconds and
            # otherwise only ask whether anything is left.
            while pending_rows.exists():
                if time.perf_counter() - counted > 5:
                    left, counted = pending_rows.count(), time.perf_counter()
                samples.append((left, _rss_mb(worker.pid)))
                time.sleep(0.25)
                if worker.poll() is not None:
                    raise CommandError("the worker died")
            seconds = time.perf_counter() - t
            samples.append((0, _rss_mb(worker.pid)))
        rate = backlog / seconds
        self.rows.append(Row("normalization, one worker process", [rate], "events/s", copies,
                             "≥ 40% of COPY", rate >= 0.4 * statistics.median(copies),
                             f"{backlog:,} events in {seconds:.0f} s (backlog built in {built:.0f} s); "
                             f"{cpu.note(backlog)}" + (f"; reference: {self.state['copy_cpu']}"
                                                       if self.state.get("copy_cpu") else "")))
        # Flat: what the worker holds once warm (a tenth of the way in) is what it holds at the end.
        rss = [mb for _, mb in samples if mb]
        warm = next((mb for left, mb in samples if mb and left <= backlog * 0.9), rss[0])
        peak = max(rss)
        self.rows.append(Row(f"worker RSS over {backlog:,} events", [peak], "MB peak", [], "flat, < 300 MB",
                             peak < 300 and peak <= warm * 1.25 + 10,
                             f"{warm:.0f} MB at 10% of the backlog, {samples[-1][1]:.0f} MB at the end"))

    def bench_lag(self):
        org, key = tenant("lag")
        rate = max(5.0, self.state.get("ingest_peak", 100) / 2)
        seconds = 3 if self.quick else 15
        events = bodies(int(rate * seconds), seed=44, org=org)
        with gunicorn() as (port, _), celery_worker():
            # Lag is measured from an empty queue: first let the worker drain what earlier benches left.
            deadline = time.monotonic() + 900
            while RawEvent.objects.filter(status=RawStatus.PENDING).exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            result = post_all("127.0.0.1", port, "/api/v1/lineage", events, key=key, clients=2, rate=rate)
            if set(result.statuses) != {201}:
                raise CommandError(f"ingest answered {result.statuses}")
            deadline = time.monotonic() + 120
            while pending([org.pk]) and time.monotonic() < deadline:
                time.sleep(0.2)
        lags = sorted(
            (p - r).total_seconds() for r, p in RawEvent.objects.filter(org=org).values_list("received_at", "processed_at")
            if p is not None
        )
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else float("inf")
        self.rows.append(Row(f"ingest-to-catalog lag p99 at {rate:.0f} events/s (half of peak)", [p99], "s", [],
                             "< 2 s", p99 < 2, f"{len(lags)} events, median {statistics.median(lags) if lags else 0:.2f} s"))

    def bench_export(self):
        from bench import bulk

        for kind, n, build in (("lineage", self.export_records, bulk.lineage_records),
                               ("raw", self.export_raw_events, bulk.raw_events)):
            org, _ = tenant(f"export-{kind}")
            t = time.perf_counter()
            build(org, n)
            built = time.perf_counter() - t
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "export.zip"
                t = time.perf_counter()
                proc = subprocess.Popen([sys.executable, "manage.py", "export_lineage", org.slug, kind, "--out", str(out)],
                                        cwd=ROOT, env=_child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                samples = []
                while proc.poll() is None:
                    samples.append(_rss_mb(proc.pid))
                    time.sleep(0.2)
                seconds = time.perf_counter() - t
                if proc.returncode:
                    raise CommandError(f"export failed: {proc.stderr.read().decode()[-2000:]}")
                size = out.stat().st_size
            samples = [x for x in samples if x] or [0.0]
            peak = max(samples)
            half = samples[len(samples) // 2] if len(samples) > 4 else peak
            what = "lineage records (CSV zip)" if kind == "lineage" else "raw events (NDJSON + chain, zip)"
            self.rows.append(Row(f"export of {n:,} {what}", [n / seconds], "records/s", [],
                                 "flat memory, peak RSS < 200 MB", peak < 200,
                                 f"RSS mid-run {half:.0f} MB, peak {peak:.0f} MB; {size / 1e6:.0f} MB zip; "
                                 f"data built in {built:.0f} s"))

    def _catalog(self):
        """The synthetic catalog the graph and pages benchmarks read (built once a run, in its own org)."""
        from bench import catalog

        if "catalog" not in self.state:
            org, _ = tenant("catalog")
            built = catalog.build(org, catalog.QUICK if self.quick else catalog.Shape())
            self.state["catalog"] = built, catalog.Foci.find(org)
            self.rows.append(Row("catalog for graph and pages (built straight into the tables, COPY)", [built.seconds],
                                 "s", note=built.describe().split(", built")[0]))
        return self.state["catalog"]

    def bench_graph(self):
        from bench import catalog

        built, foci = self._catalog()
        edges = catalog.build_reference(built.org)
        try:
            with override_settings(DEBUG=False):  # as served: no query log
                figures = catalog.measure_graph(built.org, foci, repeat=3 if self.quick else 50)
        finally:
            catalog.drop_reference()
        for f in figures:
            ours, ref = catalog.p95(f.db), catalog.p95(f.reference)
            each = "; ".join(f"{name} {x['db']:.1f}/{x['reference']:.1f} ms, {x['queries']} queries"
                             for name, x in f.by_focus.items())
            self.rows.append(Row(f"{f.case.label}: database time p95", [ours], "ms", [ref],
                                 "≤ 2x a bare recursive CTE", ours <= 2 * ref,
                                 f"every query of the request, session and org included (catalog tables alone: "
                                 f"{catalog.p95(f.catalog):.1f} ms); ours/CTE p95: {each}; CTE over one "
                                 f"{edges:,}-edge table"))
            total = catalog.p95(f.total)
            each = "; ".join(f"{name} {x['total']:.0f} ms ({x['shown']}{', truncated' if x['truncated'] else ''})"
                             for name, x in f.by_focus.items())
            self.rows.append(Row(f"{f.case.label}: whole request p95", [total], "ms", [], f"≤ {f.case.goal_ms:.0f} ms",
                                 total <= f.case.goal_ms, f"{each}; {len(f.total)} requests, in-process"))

    def bench_pages(self):
        from bench import catalog

        built, foci = self._catalog()
        repeat = 1 if self.quick else 20  # a p95 of 10 samples would be their maximum
        with override_settings(DEBUG=False):
            figures = catalog.measure_pages(built.org, foci, repeat=repeat)
        for f in figures:
            label, worst = f.worst
            typical = statistics.median(f.by_case.values())
            self.rows.append(Row(f"{f.section.title()} page, every filter, page 1 and the middle page: worst p95",
                                 [worst], "ms", [], "≤ 150 ms", worst <= 150,
                                 f"worst: {label}; median case {typical:.0f} ms; {len(f.by_case)} cases x {repeat}, "
                                 "whole request in-process"))

    # --- Output -------------------------------------------------------------------------------

    def print_table(self, seconds: float):
        head = ["figure", "value (median, spread)", "reference", "ratio", "goal", "", "note"]
        table = [head, *[r.cells() for r in self.rows]]
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        line = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
        self.stdout.write(line.format(*head))
        self.stdout.write("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in table[1:]:
            self.stdout.write(line.format(*row))
        size = self.state.get("event_bytes")
        self.stdout.write(f"\n{os.cpu_count()} cores; events {size:,.0f} bytes on average; "
                          f"repetitions {self.repeat}; took {seconds:.0f} s" if size else f"\ntook {seconds:.0f} s")
