from __future__ import annotations

from django.core.management.base import BaseCommand

from clouds.management.commands._lookup import get_cloud
from clouds.services import create_ingest_key


class Command(BaseCommand):
    help = "Create an ingest key for a cloud and print the secret, alone, on stdout (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("org")
        parser.add_argument("cloud")
        parser.add_argument("--name", default="default")

    def handle(self, org, cloud, name, **options):
        key, secret = create_ingest_key(cloud=get_cloud(org, cloud), name=name, actor="manage.py create_ingest_key")
        self.stderr.write(f"created ingest key {key.name!r} (lk_{key.prefix}_…) for {org}/{cloud}")
        self.stdout.write(secret)
