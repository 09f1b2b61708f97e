from __future__ import annotations

from django.core.management.base import BaseCommand

from orgs.services import create_org


class Command(BaseCommand):
    help = "Create an organization (idempotent: an existing slug is left as it is)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", help="Display name (defaults to the slug)")

    def handle(self, slug, name, **options):
        org, created = create_org(slug=slug, name=name or slug, actor="manage.py create_org")
        self.stdout.write(f"{'created' if created else 'exists'}: organization {org.slug}")
