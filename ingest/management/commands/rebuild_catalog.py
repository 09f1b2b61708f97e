from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalog.models import Asset, Job, Workload
from catalog.normalize import lock_catalog
from ingest.models import RawEvent, RawStatus
from ingest.pipeline import normalize_raw_events
from orgs.models import Organization


class Command(BaseCommand):
    help = "Rebuild an organization's catalog from its raw events (the system of record)."

    def add_arguments(self, parser):
        parser.add_argument("org")

    def handle(self, org, **options):
        try:
            organization = Organization.objects.get(slug=org)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization {org!r}") from None
        with transaction.atomic():
            lock_catalog(organization.pk)  # no normalizer batch of this org interleaves
            # Runs, edges and schema versions go with their workloads, jobs and assets (cascade).
            Workload.objects.in_org(organization).delete()
            Job.objects.in_org(organization).delete()
            Asset.objects.in_org(organization).delete()
            # Events expired by retention have no body left; what they contributed is gone with them.
            held = RawEvent.objects.in_org(organization).filter(expired_at__isnull=True)
            held.update(status=RawStatus.PENDING, attempts=0, error="", processed_at=None)
        ids = list(held.order_by("id").values_list("id", flat=True))
        done = normalize_raw_events(ids)
        parked = RawEvent.objects.in_org(organization).filter(status=RawStatus.PARKED).count()
        self.stdout.write(f"rebuilt {org}: {done} of {len(ids)} raw events normalized, {parked} parked")
