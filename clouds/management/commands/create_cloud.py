from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from clouds.services import create_cloud, grant_ownership
from orgs.models import Organization


class Command(BaseCommand):
    help = "Create a cloud in an organization (idempotent) and optionally grant owners."

    def add_arguments(self, parser):
        parser.add_argument("org")
        parser.add_argument("name")
        parser.add_argument("--owner", action="append", default=[], help="Email of a cloud owner (repeatable)")

    def handle(self, org, name, owner, **options):
        try:
            organization = Organization.objects.get(slug=org)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization {org!r}") from None
        cloud, created = create_cloud(org=organization, name=name, actor="manage.py create_cloud")
        for email in owner:
            user = get_user_model().objects.filter(username=email).first()
            if user is None:
                raise CommandError(f"no user {email!r}; create it first with create_user")
            grant_ownership(cloud=cloud, user=user, actor="manage.py create_cloud")
        self.stdout.write(f"{'created' if created else 'exists'}: cloud {name} (id {cloud.public_id})")
