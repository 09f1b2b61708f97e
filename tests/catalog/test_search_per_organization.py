"""A name search reads its own organization's matches, not every organization's (catalog migration
0018: GIN indexes of a scope key, organization and kind, beside the trigrams; catalog.filters.search_scope)."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from catalog.bulk import Table
from catalog.models import Asset, Workload
from clouds.services import create_cloud
from orgs.models import Role
from orgs.services import create_org, ensure_user, set_membership

pytestmark = [pytest.mark.django_db, pytest.mark.services, pytest.mark.eager]  # PostgreSQL indexes and plans


def fill(org, n: int, *, kind: str, matching: int, start: int = 0) -> None:
    """n assets (of `kind`) and n workloads, of which the first `matching` have "shared" in their URI
    or name and the others only some of its trigrams ("sha-red")."""
    now = timezone.now()
    cloud = org.clouds.first()
    words = [("shared" if i < start + matching else "sha-red") + f"-{i}" for i in range(start, start + n)]
    Table(Asset).insert(["org", "namespace", "name", "uri", "kind", "dataset_type", "created_by", "created_at",
                         "updated_at", "attrs", "stamps"],
                        [(org.pk, "s3://b", w, f"s3://b/{w}", kind, "Model" if kind == "model" else "Parquet", "",
                          now, now, {}, {}) for w in words])
    Table(Workload).insert(["org", "cloud", "external_id", "kind", "name", "status", "owner_email", "derived",
                            "created_at", "updated_at", "attrs", "stamps"],
                           [(org.pk, cloud.pk, f"wl-{i}", "job", w, "", "", False, now, now, {}, {})
                            for i, w in enumerate(words, start=start)])


def trigram_entries_read(sql: str, params) -> int:
    """Entries the statement's scans of trigram indexes returned, by EXPLAIN ANALYZE, planned as the
    paginator plans a search (bitmap scans only, catalog.pagination.bitmap_planned)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
        cursor.execute("RESET enable_indexscan; RESET enable_seqscan")
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def walk(node: dict) -> int:
        own = node["Actual Rows"] * node["Actual Loops"] if node.get("Index Name", "").endswith("_trgm") else 0
        return own + sum(walk(n) for n in node.get("Plans", []))

    return walk(plan[0]["Plan"])


def searches(url: str, user) -> tuple[list[tuple[str, list]], object]:
    """The search statements of one list request (what bitmap_planned wraps in SET LOCAL ... RESET)."""
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    client = Client()
    client.force_login(user)
    with connection.execute_wrapper(capture):
        response = client.get(url)
    assert response.status_code == 200
    found = []
    for sql, params in statements:
        if "LIKE" in sql:
            sql = sql.split("SET LOCAL enable_seqscan = off;")[-1].split("; RESET")[0]
            found.append((sql, params))
    assert found
    return found, response


# Sizes at which PostgreSQL reads the trigram index for the small organization (below them it reads
# the organization's rows through a btree index and checks each, which never reads another's).
@pytest.mark.parametrize(("section", "kind", "own"), [("datasets", "dataset", 6_000), ("models", "model", 6_000),
                                                      ("workloads", None, 2_000)])
def test_a_small_organizations_search_reads_none_of_a_large_ones_matches(tenant, section, kind, own):
    neighbour, _ = create_org(slug="neighbour", name="Neighbour")
    create_cloud(org=neighbour, name="main")
    fill(neighbour, 10_000, kind=kind or "dataset", matching=0)
    fill(tenant.org, own, kind=kind or "dataset", matching=10)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_asset")
        cursor.execute("ANALYZE catalog_workload")
    # Since the statistics were taken, the neighbour has 10,000 rows that match: to the planner the
    # pattern still looks rare, so it reads the trigram index for it.
    fill(neighbour, 10_000, kind=kind or "dataset", matching=10_000, start=10_000)
    user, _ = ensure_user(email="member@acme.test")
    set_membership(org=tenant.org, user=user, role=Role.MEMBER)

    statements, response = searches(f"/o/acme/{section}/?created_by=&q=shared", user)
    assert re.search(rb"(\d+) - (\d+) of (\d+)", response.content).groups() == (b"1", b"10", b"10")
    # The neighbour's 10,000 matches are under the same trigrams; reading them is what made a small
    # organization's search cost what the largest one's does. Now the index yields the 10.
    assert sum(trigram_entries_read(sql, params) for sql, params in statements) <= 100
