from __future__ import annotations

from django.core.management.base import BaseCommand

from clouds.management.commands._lookup import get_cloud
from clouds.services import create_project


class Command(BaseCommand):
    help = "Create a project in a cloud (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("org")
        parser.add_argument("cloud")
        parser.add_argument("name")
        parser.add_argument("--id", dest="public_id", default="", help="Project id workloads report (default: generated)")

    def handle(self, org, cloud, name, public_id, **options):
        project, created = create_project(cloud=get_cloud(org, cloud), name=name, public_id=public_id,
                                          actor="manage.py create_project")
        self.stdout.write(f"{'created' if created else 'exists'}: project {name} (id {project.public_id})")
