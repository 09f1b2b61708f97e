from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ingest.retention import RetentionError, apply_retention, retention_days, set_retention
from orgs.models import Organization


class Command(BaseCommand):
    help = ("Set how many days an organization's raw events are kept (default and minimum: 183, six months), "
            "or with --apply tombstone what is past it now. Audited.")

    def add_arguments(self, parser):
        parser.add_argument("org")
        parser.add_argument("days", type=int, nargs="?")
        parser.add_argument("--below-regulatory-minimum", action="store_true",
                            help="Allow fewer than 183 days (recorded as such in the audit log)")
        parser.add_argument("--apply", action="store_true", help="Expire events past the period now")

    def handle(self, org, days, below_regulatory_minimum, apply, **options):
        try:
            organization = Organization.objects.get(slug=org)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization {org!r}") from None
        if days is not None:
            try:
                set_retention(org=organization, days=days, below_minimum=below_regulatory_minimum,
                              actor="manage.py set_retention")
            except RetentionError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(f"retention of {org}: {retention_days(organization)} days")
        if apply:
            self.stdout.write(f"expired {apply_retention(org=organization, actor='manage.py set_retention')} raw events")
