"""Done means: from `manage.py load_demo` data, a member walks by clicking from the Datasets list to a
dataset, its producing job, the model trained on it, and the service that loads that model."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from catalog import demo
from lineage_project.celery import app as celery_app
from tests.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_catalog():
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # the command normalizes in-process, as without a broker
    try:
        call_command("load_demo", stdout=io.StringIO(), stderr=io.StringIO())
    finally:
        celery_app.conf.task_always_eager = eager


def related(page, side: str):
    """The Upstream or Downstream table of a detail page's related section."""
    return page.locator("#h-related").locator("..").locator("div", has=page.get_by_role("heading", name=re.compile(side)))


def test_walk_from_a_dataset_to_the_service_that_loads_the_model_trained_on_it(demo_catalog, page_as, live_server):
    page = page_as()
    page.goto("/accounts/login/")
    page.fill("#id_username", "member@acme.test")
    page.fill("#id_password", demo.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("link", name="Acme Robotics").click()
    page.wait_for_url(re.compile("/o/acme/datasets/$"))
    # member@acme.test built the demand features: they are on the default ("me") list.
    page.get_by_role("link", name="forecasting/demand_features.parquet").click()
    page.wait_for_url(re.compile(r"/o/acme/datasets/\d+/$"))
    screenshot(page, "catalog-demo-dataset")

    # Its producing job...
    related(page, "Upstream").get_by_role("link", name="build-demand-features").first.click()
    page.wait_for_url(re.compile(r"/o/acme/workloads/\d+/$"))
    assert "build-demand-features" in page.locator("h1").inner_text()
    assert related(page, "Downstream").get_by_role("link", name="forecasting/demand_features.parquet").is_visible()
    page.go_back()

    # ...the job that trained a model on it, and that model...
    related(page, "Downstream").get_by_role("link", name="retrain-demand-forecaster").click()
    page.wait_for_url(re.compile(r"/o/acme/workloads/\d+/$"))
    related(page, "Downstream").get_by_role("link", name="demand-forecaster v2").click()
    page.wait_for_url(re.compile(r"/o/acme/models/\d+/$"))
    assert page.get_by_text("lightgbm", exact=True).is_visible()
    screenshot(page, "catalog-demo-model")

    # ...and the service that loads it.
    related(page, "Downstream").get_by_role("link", name="forecast-api").click()
    page.wait_for_url(re.compile(r"/o/acme/workloads/\d+/$"))
    assert " ".join(page.locator("h1").inner_text().split()).startswith("Service forecast-api")
    screenshot(page, "catalog-demo-service")

    # The same walk on the service's lineage graph, three hops upstream.
    page.locator("nav.tabs").get_by_role("link", name="Lineage").click()
    page.select_option("select[name=direction]", "upstream")
    page.select_option("select[name=depth]", "3")
    page.get_by_role("button", name="Show").click()
    page.wait_for_function("[...document.querySelectorAll('#lineage text.name')].some(t => "
                           "t.textContent.endsWith('demand_features.parquet'))")
    names = page.locator("#lineage text.name").all_text_contents()
    assert "demand-forecaster v2" in names and "retrain-demand-forecaster" in names
    screenshot(page, "catalog-demo-service-lineage")
