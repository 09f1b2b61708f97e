from __future__ import annotations

from django.core.management.base import BaseCommand

from clouds.management.commands._lookup import get_cloud
from clouds.services import set_cloud_lineage


class Command(BaseCommand):
    help = "Switch a cloud's lineage tracking on or off (idempotent, recorded in the toggle history)."

    def add_arguments(self, parser):
        parser.add_argument("org")
        parser.add_argument("cloud")
        parser.add_argument("state", choices=["on", "off"])

    def handle(self, org, cloud, state, **options):
        changed = set_cloud_lineage(cloud=get_cloud(org, cloud), enabled=state == "on", actor="manage.py set_cloud_lineage")
        self.stdout.write(f"lineage tracking of {org}/{cloud}: {state}{'' if changed else ' (unchanged)'}")
