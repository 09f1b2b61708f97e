from __future__ import annotations

import logging
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError

from catalog import demo

# Per-event INFO lines (client set-up, one eager task per request) would bury the summary.
_CHATTY = {"openlineage.client": logging.WARNING, "celery.app.trace": logging.WARNING}
if not demo.broker_configured():
    _CHATTY["kombu.connection"] = logging.ERROR  # "No hostname was supplied": eager mode has no broker


@contextmanager
def _quiet():
    loggers = {logging.getLogger(name): level for name, level in _CHATTY.items()}
    before = {lg: lg.level for lg in loggers}
    for lg, level in loggers.items():
        lg.setLevel(max(level, lg.getEffectiveLevel()))
    try:
        yield
    finally:
        for lg, level in before.items():
            lg.setLevel(level)


class Command(BaseCommand):
    help = (
        "Set up the demo tenant (acme, with users of every role) and, on the first run, send it a demo lineage "
        "history through the real ingest endpoint with the official OpenLineage client. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--public-url", default="http://127.0.0.1:8000",
            help="Where the demo is browsed (as `make run` serves it): printed as OPENLINEAGE_URL and used in "
                 "the custom facets' _schemaURL. Default: %(default)s.",
        )

    def handle(self, *, public_url: str, **options):
        with _quiet():
            result = demo.load_demo(public_url=public_url)
        out = self.stdout.write
        org = result.tenant.org

        beta = "on" if org.lineage_beta_enabled else "off"
        out(self.style.MIGRATE_HEADING(f"Demo organization {org.slug!r} ({org.name}), lineage beta {beta}"))
        for name, cloud in result.tenant.clouds.items():
            state = "on" if cloud.lineage_enabled else "off"
            out(f"  cloud {name} ({cloud.public_id}): lineage {state}")
        out(f"  toggle history: {demo.PROD} on since {demo.PROD_ON_SINCE.days} days ago; {demo.DEV} on "
            f"{demo.DEV_ON_SINCE.days} days ago, off since {demo.DEV_OFF_SINCE.days} days ago")
        out(self.style.MIGRATE_HEADING(f"Users (password for all: {demo.PASSWORD})"))
        for email, _, _, what in demo.USERS:
            out(f"  {email:<22} {what}")

        if result.already_loaded:
            out(self.style.MIGRATE_HEADING("Demo history"))
            out("  already loaded by an earlier run: nothing sent. Ingest keys are shown only when created; make "
                f"another with `python manage.py create_ingest_key {org.slug} {demo.PROD} --name mine`.")
        else:
            out(self.style.MIGRATE_HEADING("Ingest keys (shown once, stored only hashed)"))
            for cloud, secret in result.keys.items():
                out(f"  {cloud}: OPENLINEAGE_URL={public_url} OPENLINEAGE_API_KEY={secret}")
            sent = result.sent
            out(self.style.MIGRATE_HEADING("Demo history, sent over HTTP with openlineage-python"))
            for cloud in result.tenant.clouds:
                per = {s: n for (c, s), n in sorted(sent.statuses.items()) if c == cloud}
                out(f"  {cloud}: " + (", ".join(f"{n} {s}" for s, n in per.items()) or "nothing sent"))
            for line in sent.dropped:
                out(f"  dropped: {line}")
            if sent.failures:
                for line in sent.failures:
                    self.stderr.write(f"  failed: {line}")
                raise CommandError(f"{len(sent.failures)} demo events were refused; see above.")

        pending = result.raw.get("pending", 0)
        if demo.broker_configured() and pending:
            out(self.style.WARNING(
                f"  {pending} events are stored and queued: a Celery worker must run (`make worker`) to normalize "
                "them into the catalog; the counts below grow as it does."))
        elif pending or result.raw.get("parked", 0):
            self.stderr.write(f"  raw events not normalized: {result.raw}")

        c = result.counts
        out(self.style.MIGRATE_HEADING("Catalog of acme"))
        out(f"  workloads: {c['workloads']} ({c['workloads.job']} jobs, {c['workloads.service']} services, "
            f"{c['workloads.workspace']} workspaces)")
        out(f"  datasets: {c['datasets']}, models: {c['models']}")
        out(f"  raw events: {sum(result.raw.values())} ({', '.join(f'{n} {s}' for s, n in sorted(result.raw.items()))})")
        out(self.style.SUCCESS(f"Done in {result.elapsed_seconds:.1f} s. Browse {public_url}/ and sign in as "
                               f"member@acme.test / {demo.PASSWORD}."))
