from __future__ import annotations

from django.core.management.base import BaseCommand

from ingest.sealing import seal_all


class Command(BaseCommand):
    help = "Append every organization's unsealed raw events to its chain (what beat runs periodically)."

    def handle(self, **options):
        self.stdout.write(f"sealed {seal_all()} raw events")
