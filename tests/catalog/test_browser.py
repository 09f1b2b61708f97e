"""The catalog in real headless Chromium: filter the Datasets list, open a dataset, its Lineage tab,
expand nodes, page through "N more", and hostile names shown as text (no dialog ever fires).
Screenshots land in test-artifacts/catalog-*.png."""

from __future__ import annotations

import re

import pytest

from tests.catalog.conftest import EVIL, EVIL_IMG
from tests.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def node(page, node_id: str):
    return page.locator(f'#lineage g.node[data-node-id="{node_id}"]')


def text(locator) -> str:
    return " ".join(locator.inner_text().split())


def expand(page, node_id: str) -> None:
    """Click a node's empty corner (its name is a link to its page)."""
    node(page, node_id).locator("rect.box").click(position={"x": 215, "y": 50})


def wait_nodes(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('#lineage g.node').length === {n}")


def test_filter_datasets_open_one_and_expand_its_lineage(history, cast, page_as, live_server):
    page = page_as(cast["member"])
    page.goto("/o/acme/datasets/")
    # "me" is the default chip: member@acme.test's datasets.
    assert text(page.locator(".chip").first).startswith("Created by: me")
    assert page.locator("table.list tbody tr").count() == 4
    screenshot(page, "catalog-datasets")

    # Remove "me", then filter by cloud and creator with the sidebar.
    page.get_by_role("link", name="Remove filter Created by").click()
    assert page.locator("table.list tbody tr").count() == 7
    page.select_option("#f-cloud", label="acme-prod")
    page.fill("#f-created_by", "member@acme.test")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"cloud=\d+"))
    assert "created_by=member%40acme.test" in page.url
    names = page.locator("table.list tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == ["daily/features.parquet", "eval/summary.txt", "events/2026-11-01.csv"]
    assert text(page.locator(".breadcrumb")).startswith("All clouds / acme-prod")
    assert "1 - 3 of 3" in text(page.locator(".pagination"))
    screenshot(page, "catalog-datasets-filtered")

    page.get_by_role("link", name="daily/features.parquet").click()
    page.wait_for_url(re.compile(r"/o/acme/datasets/\d+/$"))
    related = page.locator("#h-related").locator("..")
    for name in ("ingest", "ingest2", "train", "evaluate"):
        assert related.get_by_role("link", name=name, exact=True).is_visible()
    assert page.get_by_text("Version 2").is_visible()
    screenshot(page, "catalog-dataset-overview")

    page.locator("nav.tabs").get_by_role("link", name="Lineage").click()
    wait_nodes(page, 5)
    feat, train, model = history.node("FEAT"), history.node("train"), history.node("MODEL")
    assert "focus" in node(page, feat).get_attribute("class")
    assert node(page, train).locator("text.kind").text_content().startswith("Job")
    assert "5 nodes (2 upstream, 2 downstream)" in page.locator(".lineage-status").inner_text()
    screenshot(page, "catalog-dataset-lineage")

    # Expand the training job: the model it wrote appears, one layer further right.
    expand(page, train)
    wait_nodes(page, 6)
    assert node(page, model).locator("text.name").text_content() == "churn v3"
    x = lambda nid: float(re.search(r"translate\(([\d.]+)", node(page, nid).get_attribute("transform")).group(1))  # noqa: E731
    assert x(feat) < x(train) < x(model)
    screenshot(page, "catalog-lineage-expanded")

    # Expanding the model brings the service that loads it.
    expand(page, model)
    serve = history.node("serve")
    node(page, serve).wait_for()
    assert node(page, serve).locator("text.kind").text_content().startswith("Service")

    # Depth and direction reload the graph.
    page.select_option("select[name=direction]", "downstream")
    page.select_option("select[name=depth]", "2")
    page.get_by_role("button", name="Show").click()
    wait_nodes(page, 5)
    ids = set(page.eval_on_selector_all("#lineage g.node", "els => els.map(e => e.dataset.nodeId)"))
    assert ids == {feat, train, history.node("evaluate"), model, history.node("REPORT")}

    # Node names link to their pages.
    node(page, model).locator("a.name-link").click()
    page.wait_for_url(re.compile(r"/o/acme/models/\d+/$"))
    assert page.locator("h1").inner_text().endswith("churn v3")


def test_more_pill_pages_through_a_large_neighbourhood(history, cast, page_as):
    page = page_as(cast["member"])
    hub = history.asset("hub/reference.parquet")
    page.goto(f"/o/acme/datasets/{hub.pk}/lineage/")
    wait_nodes(page, 26)
    more = page.locator("#lineage g.more[data-more=downstream]")
    assert more.locator("text").text_content() == "+5 more"
    assert "some neighbours are hidden" in page.locator(".lineage-status").inner_text()
    screenshot(page, "catalog-lineage-more")
    more.click()
    wait_nodes(page, 31)
    assert page.locator("#lineage g.more").count() == 0


def test_lineage_as_of_hides_later_edges(history, cast, page_as):
    page = page_as(cast["member"])
    m = history.asset("models/m-churn")
    page.goto(f"/o/acme/models/{m.pk}/lineage/")
    wait_nodes(page, 5)  # train upstream; evaluate, serve, late downstream
    page.fill("input[name=as_of]", "2026-11-01T12:50:00")
    page.get_by_role("button", name="Show").click()
    wait_nodes(page, 4)
    assert node(page, history.node("late")).count() == 0


def test_workload_overview_and_impact_pages(history, cast, page_as):
    page = page_as(cast["member"])
    train = history.workload("train")
    page.goto(f"/o/acme/workloads/{train.pk}/")
    assert page.get_by_role("heading", name="Related resources").is_visible()
    assert page.get_by_role("link", name="churn v3").is_visible()
    screenshot(page, "catalog-workload-overview")
    feat = history.asset("daily/features.parquet")
    page.goto(f"/o/acme/datasets/{feat.pk}/impact/?depth=5")
    assert page.get_by_role("heading", name="Downstream within 5 hops: 9").is_visible()
    screenshot(page, "catalog-impact")


def test_hostile_names_are_text_in_the_browser_and_the_graph(hostile, cast, page_as):
    page = page_as(cast["member"])
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ds, m, w = hostile["dataset"], hostile["model"], hostile["workload"]

    page.goto(f"/o/acme/datasets/?created_by=&q={EVIL_IMG}")
    page.goto("/o/acme/datasets/?created_by=")
    assert page.get_by_role("link", name=EVIL).is_visible()
    page.goto(f"/o/acme/datasets/{ds.pk}/")
    assert page.locator("h1").inner_text().endswith(EVIL)
    assert page.get_by_text(EVIL_IMG).first.is_visible()
    screenshot(page, "catalog-hostile-dataset")
    page.goto(f"/o/acme/workloads/{w.pk}/")
    assert page.locator("h1").get_by_text(EVIL_IMG).is_visible()
    page.goto(f"/o/acme/models/{m.pk}/")

    page.goto(f"/o/acme/datasets/{ds.pk}/lineage/")
    wait_nodes(page, 2)
    assert EVIL in page.locator("#lineage text.name").all_text_contents()
    # The workload's name is longer than a node shows: cut, with the whole name in its tooltip.
    assert any(EVIL_IMG in t for t in page.locator("#lineage g.node > title").all_text_contents())
    expand(page, f"workload:{w.pk}")
    wait_nodes(page, 3)
    # Registered as "<script>... v"><img ...>": long labels keep their end.
    assert node(page, f"asset:{m.pk}").locator("text.name").text_content().endswith(" src=x onerror=alert(2)>")
    screenshot(page, "catalog-hostile-lineage")

    assert page.evaluate("document.querySelectorAll('img, #lineage script, #lineage foreignObject').length") == 0
    assert dialogs == []
