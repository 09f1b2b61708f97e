"""Conventions checked over every governance route, so a new view is tried without anyone
remembering to: outsiders get 404 (never data), anonymous users are sent to sign in or refused."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from clouds import urls as cloud_pages
from clouds.api import urls as cloud_api
from clouds.models import IngestKey
from orgs import urls as org_pages
from orgs.api import urls as org_api
from orgs.models import Membership
from tests.orgs.conftest import client_as

pytestmark = pytest.mark.django_db

MODULES = [(org_pages, "orgs"), (cloud_pages, "clouds"), (org_api, "orgs-api"), (cloud_api, "clouds-api")]
ROUTES = [(f"{ns}:{p.name}", p) for module, ns in MODULES for p in module.urlpatterns if isinstance(p, URLPattern)]


def url_for(name: str, pattern: URLPattern, tenant, cast) -> str:
    values = {"org_slug": "acme", "cloud_id": tenant.cloud.pk, "key_id": IngestKey.objects.get(cloud=tenant.cloud).pk,
              "membership_id": Membership.objects.get(user=cast["member"]).pk, "user_id": cast["owner"].pk,
              "pk": Membership.objects.get(user=cast["member"]).pk}
    return reverse(name, kwargs={"org_slug": "acme", **{k: values[k] for k in pattern.pattern.converters}})


def test_the_routes_are_all_here():
    assert len(ROUTES) == 6 + 6 + 4 + 10


def test_outsiders_get_404_and_anonymous_users_are_refused(gov_cast, tenant, subtests):
    outsider = client_as(gov_cast["outsider"])
    for name, pattern in ROUTES:
        path = url_for(name, pattern, tenant, gov_cast)
        for method in ("get", "post"):
            with subtests.test(route=name, method=method):
                response = getattr(outsider, method)(path)
                assert response.status_code in (404, 405), response.status_code
                assert b"acme-prod" not in response.content and b"member@acme.test" not in response.content
                anonymous = getattr(Client(), method)(path)
                if "-api:" in name:  # authenticate, and how: not a 403 that reads like a missing role
                    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token", \
                        anonymous.status_code
                else:
                    assert anonymous.status_code in (302, 405)
                    if anonymous.status_code == 302:
                        assert anonymous["Location"].startswith("/accounts/login/")
