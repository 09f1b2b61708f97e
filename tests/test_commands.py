"""Operator commands: a tenant set up by a script, idempotently, and every change audited."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from clouds.models import Cloud, LineageToggleChange, Project
from orgs.models import AuditEntry, Membership, Organization
from tests.conftest import post_event
from tests.events import run_event, workload

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def test_a_tenant_set_up_by_script_can_ingest():
    run("create_org", "initech", "--name", "Initech")
    run("set_lineage_beta", "initech", "on")
    run("create_user", "peter@initech.test", "--org", "initech", "--role", "admin", "--password", "s3cret-pass-123")
    run("create_cloud", "initech", "prod", "--owner", "peter@initech.test")
    run("create_project", "initech", "prod", "tps-reports", "--id", "prj_tps")
    run("set_cloud_lineage", "initech", "prod", "on")
    key = run("create_ingest_key", "initech", "prod", "--name", "ci").strip()
    assert key.startswith("lk_") and "\n" not in key  # the secret alone on stdout, for scripts

    r = post_event(Client(), key, run_event("START", "r", workload_facet=workload("w", projectId="prj_tps"),
                                            time=timezone.now().isoformat()))
    assert r.status_code == 201, r.content
    assert Project.objects.get(public_id="prj_tps").cloud.name == "prod"


def test_commands_are_idempotent():
    for _ in range(2):
        run("create_org", "initech")
        run("set_lineage_beta", "initech", "on")
        run("create_user", "a@initech.test", "--org", "initech", "--role", "auditor")
        run("create_cloud", "initech", "prod")
        run("create_project", "initech", "prod", "p")
        run("set_cloud_lineage", "initech", "prod", "on")
    assert Organization.objects.count() == 1 and Cloud.objects.count() == 1 and Project.objects.count() == 1
    assert Membership.objects.get().role == "auditor"
    assert LineageToggleChange.objects.count() == 1
    assert "unchanged" in run("set_cloud_lineage", "initech", "prod", "on")
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["org.create", "org.lineage_beta", "membership.set", "cloud.create", "project.create",
                       "cloud.lineage_toggle"]


def test_unknown_names_are_clear_errors():
    with pytest.raises(CommandError, match="no organization 'nope'"):
        run("set_lineage_beta", "nope", "on")
    run("create_org", "initech")
    with pytest.raises(CommandError, match="no cloud 'x' in organization 'initech'"):
        run("create_ingest_key", "initech", "x")


def test_audit_entries_record_before_and_after():
    run("create_org", "initech")
    run("set_lineage_beta", "initech", "on")
    entry = AuditEntry.objects.get(action="org.lineage_beta")
    assert (entry.before, entry.after, entry.actor_label) == ({"enabled": False}, {"enabled": True},
                                                             "manage.py set_lineage_beta")
    json.dumps([entry.before, entry.after])


def test_audit_entries_cannot_be_changed_through_the_application():
    run("create_org", "initech")
    entry = AuditEntry.objects.get()
    entry.action = "forged"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().action == "org.create"


@pytest.mark.services
def test_postgres_refuses_raw_sql_updates_and_deletes_of_audit_entries():
    from django.db import DatabaseError, connection, transaction

    assert connection.vendor == "postgresql"
    run("create_org", "initech")
    for sql in ("UPDATE orgs_auditentry SET action = 'forged'", "DELETE FROM orgs_auditentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEntry.objects.get().action == "org.create"
