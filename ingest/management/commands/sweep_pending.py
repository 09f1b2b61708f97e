from __future__ import annotations

from django.core.management.base import BaseCommand

from ingest.tasks import sweep_pending


class Command(BaseCommand):
    help = "Re-enqueue raw events still pending (what celery beat runs periodically)."

    def handle(self, **options):
        self.stdout.write(f"re-enqueued {sweep_pending()} pending raw events")
