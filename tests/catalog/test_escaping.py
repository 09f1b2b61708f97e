"""Names and facets come from events, so from anyone holding an ingest key: pages show them as text.
(The browser half of this, dialogs and the graph, is in test_browser.py.)"""

from __future__ import annotations

import pytest

from tests.catalog.conftest import EVIL, EVIL_IMG

pytestmark = pytest.mark.django_db

RAW_MARKERS = ("<script>alert", "<img src=x", 'href="javascript', "href='javascript")


def hostile_urls(h) -> list[str]:
    ds, m, w = h["dataset"].pk, h["model"].pk, h["workload"].pk
    return [
        "/o/acme/datasets/", "/o/acme/models/", "/o/acme/workloads/",
        f"/o/acme/datasets/{ds}/", f"/o/acme/datasets/{ds}/lineage/", f"/o/acme/datasets/{ds}/impact/",
        f"/o/acme/models/{m}/", f"/o/acme/models/{m}/impact/?direction=upstream",
        f"/o/acme/workloads/{w}/", f"/o/acme/workloads/{w}/impact/", f"/o/acme/workloads/{w}/lineage/",
        f"/o/acme/datasets/?q={EVIL_IMG}&created_by={EVIL}&type={EVIL}",  # reflected from the URL
    ]


def test_hostile_names_and_facets_are_escaped_on_every_page(hostile, member_client):
    for url in hostile_urls(hostile):
        body = member_client.get(url).content.decode()
        for marker in RAW_MARKERS:
            assert marker not in body, (url, marker)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body or "&lt;img src=x" in body, url


def test_hostile_dataset_page_shows_the_text(hostile, member_client):
    body = member_client.get(f"/o/acme/datasets/{hostile['dataset'].pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # name, column lineage, symlinks, facets
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in body  # schema field, symlink name
    assert 'href="javascript' not in body


def test_hostile_workload_page_never_links_a_javascript_url(hostile, member_client):
    body = member_client.get(f"/o/acme/workloads/{hostile['workload'].pk}/").content.decode()
    assert '<dd class="mono">javascript:alert(3)</dd>' in body  # shown, not linked
    assert 'href="javascript' not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # status, error message, job name


def test_hostile_csv_export_is_plain_text(hostile, member_client):
    r = member_client.get(f"/o/acme/datasets/{hostile['dataset'].pk}/impact/csv/")
    assert r["Content-Type"].startswith("text/csv") and EVIL_IMG.replace('"', '""') in r.content.decode()


def test_graph_api_returns_names_as_json_data(hostile, member_client):
    r = member_client.get("/api/v1/o/acme/graph/", {"node": f"asset:{hostile['dataset'].pk}"})
    assert r["Content-Type"] == "application/json"
    assert {n["name"] for n in r.json()["nodes"]} == {EVIL, EVIL_IMG}
