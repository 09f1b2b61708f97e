from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from orgs.models import Organization
from orgs.services import set_lineage_beta


class Command(BaseCommand):
    help = "Enable or disable the lineage beta of an organization (idempotent, audited)."

    def add_arguments(self, parser):
        parser.add_argument("org")
        parser.add_argument("state", choices=["on", "off"])

    def handle(self, org, state, **options):
        try:
            organization = Organization.objects.get(slug=org)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization {org!r}") from None
        changed = set_lineage_beta(org=organization, enabled=state == "on", actor="manage.py set_lineage_beta")
        self.stdout.write(f"lineage beta of {org}: {state}{'' if changed else ' (unchanged)'}")
