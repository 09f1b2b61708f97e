from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ingest.sealing import seal, verify
from orgs.models import Organization


class Command(BaseCommand):
    help = "Check an organization's tamper-evident chain of raw events; exits 1 if anything is wrong."

    def add_arguments(self, parser):
        parser.add_argument("org")
        parser.add_argument("--seal-first", action="store_true", help="Seal parked events before checking (normalized ones are sealed as they are normalized)")

    def handle(self, org, seal_first, **options):
        try:
            organization = Organization.objects.get(slug=org)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization {org!r}") from None
        if seal_first:
            seal(organization.pk)
        verdict = verify(organization)
        for line in verdict.problems:
            self.stderr.write(f"FAIL {line}")
        if not verdict.ok:
            raise CommandError(f"chain of {org} is NOT intact ({len(verdict.problems)} problems shown)")
        self.stdout.write(f"chain of {org} intact: {verdict.checked} entries ({verdict.expired} expired by retention), "
                          f"head {verdict.head_seq} {verdict.head_hash}")
