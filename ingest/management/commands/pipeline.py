"""`manage.py pipeline status|parked|retry`: what waits for normalization, what was parked and why,
and returning parked events to the queue once their cause is fixed (ingest.pipeline)."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.timesince import timesince

from ingest.pipeline import backlog, parked_events, retry_parked
from ingest.tasks import enqueue
from orgs.models import Organization


def printable(text: str) -> str:
    """Event-derived text (errors quote events) with control characters escaped, so that it cannot
    drive the operator's terminal."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def age(since: datetime | None, now: datetime) -> str:
    """The wait as the staff page words it (its `timesince`), in the largest unit."""
    return "-" if since is None else timesince(since, now, depth=1)


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="Events pending and parked, by organization; the oldest pending "
                                                "event's wait is the ingest-to-catalog lag now")
        status.add_argument("--max-lag", type=float, metavar="SECONDS",
                            help="Fail (exit status 1) if an event has waited longer than this")
        status.add_argument("--max-parked", type=int, metavar="N", help="Fail (exit status 1) if more are parked")
        parked = sub.add_parser("parked", help="Parked events, oldest first, with the error that parked them")
        parked.add_argument("--org", metavar="SLUG")
        parked.add_argument("--limit", type=int, default=50)
        retry = sub.add_parser("retry", help="Return parked events to the queue with fresh attempts")
        retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="Raw event ids (default: all parked)")
        retry.add_argument("--org", metavar="SLUG")
        retry.add_argument("--all", action="store_true", dest="every_org", help="Every organization's parked events")

    def handle(self, action, **options):
        getattr(self, action)(**options)

    def organization(self, slug: str | None) -> Organization | None:
        if slug is None:
            return None
        try:
            return Organization.objects.get(slug=slug)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization {slug!r}") from None

    def status(self, max_lag: float | None, max_parked: int | None, **_):
        now = timezone.now()
        rows = backlog()
        slugs = dict(Organization.objects.filter(pk__in=[r.org_id for r in rows]).values_list("pk", "slug"))
        if not rows:
            self.stdout.write("nothing pending or parked")
        else:
            width = max(len("organization"), *(len(slugs[r.org_id]) for r in rows))
            self.stdout.write(f"{'organization':<{width}}  {'pending':>9}  {'oldest pending':<16}  {'parked':>7}")
            for r in rows:
                self.stdout.write(f"{slugs[r.org_id]:<{width}}  {r.pending:>9,}  {age(r.oldest_pending, now):<16}  "
                                  f"{r.parked:>7,}")
        oldest = min((r.oldest_pending for r in rows if r.oldest_pending), default=None)
        lag = (now - oldest).total_seconds() if oldest else 0.0
        parked = sum(r.parked for r in rows)
        problems = []
        if max_lag is not None and lag > max_lag:
            problems.append(f"the oldest pending event has waited {lag:.0f} s, more than --max-lag {max_lag:g} s "
                            "(is a worker running? `make worker`)")
        if max_parked is not None and parked > max_parked:
            problems.append(f"{parked} events are parked, more than --max-parked {max_parked} "
                            "(see `manage.py pipeline parked`)")
        if problems:
            raise CommandError("; ".join(problems))

    def parked(self, org: str | None, limit: int, **_):
        organization = self.organization(org)
        rows = list(parked_events(organization).order_by("id").values_list("id", "org__slug", "cloud__name", "kind", "received_at",
                                                      "attempts", "error")[: limit + 1])
        if not rows:
            self.stdout.write("no parked events")
            return
        for pk, slug, cloud, kind, received, attempts, error in rows[:limit]:
            first = (error.splitlines() or [""])[0]
            self.stdout.write(f"{pk}  {slug}/{printable(cloud)}  {kind}  received {received:%Y-%m-%d %H:%M:%S}  "
                              f"attempts {attempts}  {printable(first)[:200]}")
        if len(rows) > limit:
            self.stdout.write(f"... and more: --limit {limit * 10} shows more")

    def retry(self, ids: list[int], org: str | None, every_org: bool, **_):
        if not ids and org is None and not every_org:
            raise CommandError("say which parked events to retry: their ids, --org SLUG, or --all")
        found = retry_parked(org=self.organization(org), ids=ids or None)
        missing = sorted(set(ids) - set(found))
        enqueue(found)
        self.stdout.write(f"returned {len(found)} parked events to the queue")
        if missing:
            raise CommandError(f"not parked{' in ' + org if org else ''}, left as they are: "
                               f"{', '.join(map(str, missing))}")
