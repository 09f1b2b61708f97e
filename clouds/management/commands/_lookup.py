from __future__ import annotations

from django.core.management.base import CommandError

from clouds.models import Cloud


def get_cloud(org_slug: str, name: str) -> Cloud:
    try:
        return Cloud.objects.select_related("org").get(org__slug=org_slug, name=name)
    except Cloud.DoesNotExist:
        raise CommandError(f"no cloud {name!r} in organization {org_slug!r}") from None
