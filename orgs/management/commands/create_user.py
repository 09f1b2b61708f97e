from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError

from orgs.models import Organization, Role
from orgs.services import ensure_user, set_membership


class Command(BaseCommand):
    help = ("Create a user (username = email) and give them a role in an organization. Idempotent: an "
            "existing user keeps their password unless --password is given; the role is updated.")

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--org", help="Organization slug to add the user to")
        parser.add_argument("--role", choices=Role.values, default=Role.MEMBER)
        parser.add_argument("--password", help="Password (or set LINEAGE_USER_PASSWORD); omit for no login")
        parser.add_argument("--staff", action="store_true", help="Platform staff (Django admin, every org)")

    def handle(self, email, org, role, password, staff, **options):
        password = password or os.environ.get("LINEAGE_USER_PASSWORD")
        user, created = ensure_user(email=email, password=password, is_staff=staff)
        if created and password is None:
            user.set_unusable_password()
            user.save()
        self.stdout.write(f"{'created' if created else 'exists'}: user {email}")
        if org:
            try:
                organization = Organization.objects.get(slug=org)
            except Organization.DoesNotExist:
                raise CommandError(f"no organization {org!r}") from None
            set_membership(org=organization, user=user, role=role, actor="manage.py create_user")
            self.stdout.write(f"role in {org}: {role}")
