"""The governance cast: the shared cast plus an owner of the org's *other* cloud, and helpers to
read the audit log in tests."""

from __future__ import annotations

import pytest
from django.test import Client

from clouds.services import grant_ownership
from orgs.models import AuditEntry, Role
from orgs.services import ensure_user, set_membership

ROLES = ["staff", "admin", "owner", "other_owner", "member", "auditor", "outsider", "anonymous"]


@pytest.fixture
def gov_cast(cast, tenant):
    """`cast` plus `other_owner`: a member who owns acme-dev but not acme-prod (tenant.cloud)."""
    user, _ = ensure_user(email="other-owner@acme.test", password="pw-not-secret-123")
    set_membership(org=tenant.org, user=user, role=Role.MEMBER)
    grant_ownership(cloud=tenant.other_cloud, user=user)
    return {**cast, "other_owner": user, "anonymous": None}


def client_as(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def denials(**filters):
    return AuditEntry.objects.filter(allowed=False, **filters)
