"""The Datasets, Models and Workloads lists: every filter, sort and pagination control, through the
page and through the API, which share one FilterSet per list."""

from __future__ import annotations

import pytest

from clouds.models import Project
from tests.catalog.conftest import ADMIN, AUDITOR, FANS, OWNER

pytestmark = pytest.mark.django_db

DATASETS = {"RAW": "events/2026-11-01.csv", "RAW2": "clicks/2026-11-01.json", "FEAT": "daily/features.parquet",
            "REPORT": "eval/report.json", "SUMMARY": "eval/summary.txt", "PRED": "predictions.jsonl",
            "HUB": "hub/reference.parquet"}
NAME_TO_LABEL = {v: k for k, v in DATASETS.items()}
ALL_DATASETS = set(DATASETS)
FAN_NAMES = {f"fan-{i:02d}" for i in range(FANS)}
ALL_WORKLOADS = {"ingest", "ingest2", "train", "evaluate", "serve", "refresh", "late"} | FAN_NAMES


def page_rows(client, url, params) -> list:
    r = client.get(url, params)
    assert r.status_code == 200, r.content[:500]
    return list(r.context["page"].object_list)


def api_rows(client, url, params) -> tuple[int, list[dict]]:
    r = client.get(url, {**params, "per_page": 100})
    assert r.status_code == 200, r.content[:500]
    return r.json()["count"], r.json()["results"]


def dataset_labels(rows) -> set[str]:
    return {NAME_TO_LABEL[r.name if hasattr(r, "name") else r["name"]] for r in rows}


def workload_names(rows) -> set[str]:
    return {r.name if hasattr(r, "name") else r["name"] for r in rows}


def resolve(history, params: dict) -> dict:
    """Fill ids into parameters that name clouds, projects and edges symbolically."""
    t = history.tenant
    out = dict(params)
    if out.get("cloud") == "prod":
        out["cloud"] = t.cloud.pk
    elif out.get("cloud") == "dev":
        out["cloud"] = t.other_cloud.pk
    if out.get("project") == "training":
        out["project"] = Project.objects.get(org=t.org, name="training").pk
    elif out.get("project") == "sandbox":
        out["project"] = Project.objects.get(org=t.org, public_id="prj_acme_sandbox").pk
    for key in ("reads", "writes"):
        if key in out:
            out[key] = history.asset(DATASETS[out[key]]).pk
    for key in ("read_by", "written_by"):
        if key in out:
            out[key] = history.workload(out[key]).pk
    return out


DATASET_CASES = [
    ({}, {"RAW", "RAW2", "FEAT", "SUMMARY"}),  # "me" (member@acme.test) by default on the page
    ({"created_by": ""}, ALL_DATASETS),
    ({"created_by": "me"}, {"RAW", "RAW2", "FEAT", "SUMMARY"}),
    ({"created_by": OWNER}, {"REPORT"}),
    ({"created_by": OWNER.upper()}, {"REPORT"}),
    ({"created_by": "nobody@acme.test"}, set()),
    ({"created_by": "", "cloud": "dev"}, {"RAW2"}),
    ({"created_by": "", "cloud": "prod"}, ALL_DATASETS - {"RAW2"}),
    ({"created_by": "", "project": "sandbox"}, {"RAW2"}),
    ({"created_by": "", "cloud": "prod", "project": "training"}, ALL_DATASETS - {"RAW2"}),
    ({"created_by": "", "type": "JSON"}, {"RAW2", "REPORT", "PRED"}),
    ({"created_by": "", "type": "parquet"}, {"FEAT", "HUB"}),
    ({"created_by": "", "q": "EVAL/"}, {"REPORT", "SUMMARY"}),
    ({"created_by": "", "q": "s3://raw"}, {"RAW", "RAW2"}),
    ({"created_by": "", "created_after": "2026-11-01T12:15:00Z"}, {"REPORT", "SUMMARY", "PRED", "HUB"}),
    ({"created_by": "", "created_before": "2026-11-01T12:06:00Z"}, {"RAW", "FEAT"}),
    ({"created_by": "", "created_after": "2026-11-01T12:06:00Z", "created_before": "2026-11-01T12:20:00Z"},
     {"RAW2", "REPORT"}),
    ({"created_by": "", "created_after": "2026-11-01", "created_before": "2026-11-01"}, ALL_DATASETS),
    ({"created_by": "", "created_before": "2026-10-31"}, set()),
    ({"created_by": "", "created_after": "2026-11-02"}, set()),
    ({"created_by": "", "written_by": "refresh"}, {"REPORT", "SUMMARY"}),
    ({"created_by": "", "read_by": "evaluate"}, {"FEAT"}),
    ({"created_by": AUDITOR, "type": "Parquet", "cloud": "prod"}, {"HUB"}),
]


@pytest.mark.parametrize(("params", "expected"), DATASET_CASES)
def test_dataset_filters_on_page_and_api(history, member_client, params, expected):
    params = resolve(history, params)
    assert dataset_labels(page_rows(member_client, "/o/acme/datasets/", params)) == expected
    api_params = {"created_by": "", **params} if "created_by" not in params else params
    # The API has no "me" default: what the page defaults to, the API is asked explicitly.
    if not params:
        api_params = {"created_by": "me"}
    count, rows = api_rows(member_client, "/api/v1/o/acme/datasets/", api_params)
    assert dataset_labels(rows) == expected and count == len(expected)


WORKLOAD_CASES = [
    ({}, {"ingest", "ingest2", "refresh"}),
    ({"created_by": ""}, ALL_WORKLOADS),
    ({"created_by": ADMIN}, {"serve"}),
    ({"created_by": "", "type": "service"}, {"serve"}),
    ({"created_by": "", "type": "workspace"}, {"ingest2"}),
    ({"created_by": "", "type": "job"}, ALL_WORKLOADS - {"serve", "ingest2"}),
    ({"created_by": "", "status": "succeeded"}, ALL_WORKLOADS),
    ({"created_by": "", "status": "RUNNING"}, set()),
    ({"created_by": "", "cloud": "dev"}, {"ingest2"}),
    ({"created_by": "", "project": "sandbox"}, {"ingest2"}),
    ({"created_by": "", "q": "FAN-1"}, {f"fan-1{i}" for i in range(10)}),
    ({"created_by": "", "created_after": "2026-11-01T13:00:00Z"}, {"late"} | {f"fan-{i:02d}" for i in range(20, FANS)}),
    ({"created_by": "", "reads": "FEAT"}, {"train", "evaluate"}),
    ({"created_by": "", "writes": "FEAT"}, {"ingest", "ingest2"}),
    ({"created_by": "", "writes": "REPORT", "reads": "SUMMARY"}, {"refresh"}),
]


@pytest.mark.parametrize(("params", "expected"), WORKLOAD_CASES)
def test_workload_filters_on_page_and_api(history, member_client, params, expected):
    params = resolve(history, params)
    assert workload_names(page_rows(member_client, "/o/acme/workloads/", {**params, "per_page": 100})) == expected
    api_params = params or {"created_by": "me"}
    count, rows = api_rows(member_client, "/api/v1/o/acme/workloads/", api_params)
    assert workload_names(rows) == expected and count == len(expected)


@pytest.mark.parametrize(("params", "expected"), [
    ({}, set()),  # member@acme.test created no model
    ({"created_by": ""}, {"models/m-churn"}),
    ({"created_by": OWNER, "type": "model"}, {"models/m-churn"}),
    ({"created_by": "", "q": "churn"}, {"models/m-churn"}),
    ({"created_by": "", "q": "raw"}, set()),
])
def test_model_filters_on_page_and_api(history, member_client, params, expected):
    assert {m.name for m in page_rows(member_client, "/o/acme/models/", params)} == expected
    count, rows = api_rows(member_client, "/api/v1/o/acme/models/", params or {"created_by": "me"})
    assert {m["name"] for m in rows} == expected and count == len(expected)


def test_models_list_shows_mlflow_facts(history, member_client):
    body = member_client.get("/o/acme/models/", {"created_by": ""}).content.decode()
    assert "m-churn" in body and "churn" in body and "v3" in body and "sklearn" in body
    api = member_client.get("/api/v1/o/acme/models/").json()["results"][0]
    assert api["mlflow"]["flavor"] == "sklearn" and api["mlflow"]["registeredVersion"] == "3"


@pytest.mark.parametrize(("url", "params", "detail"), [
    ("/o/acme/datasets/", {"created_by": ""}, "/o/acme/datasets/{pk}/"),
    ("/o/acme/models/", {"created_by": ""}, "/o/acme/models/{pk}/"),
    ("/o/acme/workloads/", {"created_by": "", "per_page": 100}, "/o/acme/workloads/{pk}/"),
])
def test_each_row_links_to_its_page_and_shows_when_it_was_created(history, member_client, url, params, detail):
    body = member_client.get(url, params).content.decode()
    rows = page_rows(member_client, url, params)
    assert rows
    for row in rows:
        cells = body.split(f'<a href="{detail.format(pk=row.pk)}">', 1)[1].split("</tr>", 1)[0]
        assert f'<td class="nowrap">{row.created_at:%Y-%m-%d %H:%M}</td>' in cells
    assert member_client.get(detail.format(pk=rows[0].pk)).status_code == 200


@pytest.mark.parametrize(("sort", "first", "last"), [
    ("name", "clicks/2026-11-01.json", "predictions.jsonl"),
    ("-name", "predictions.jsonl", "clicks/2026-11-01.json"),
    ("created_at", None, "hub/reference.parquet"),  # RAW and FEAT share the first time; the id breaks the tie
    ("-created_at", "hub/reference.parquet", None),
    ("", "hub/reference.parquet", None),  # default: newest first
])
def test_dataset_sorts_on_page_and_api(history, member_client, sort, first, last):
    params = {"created_by": "", "sort": sort}
    page = [r.name for r in page_rows(member_client, "/o/acme/datasets/", params)]
    _, api = api_rows(member_client, "/api/v1/o/acme/datasets/", params)
    assert page == [r["name"] for r in api]
    if first:
        assert page[0] == first
    if last:
        assert page[-1] == last
    assert len(page) == len(ALL_DATASETS)


def test_workload_sort_by_name(history, member_client):
    rows = page_rows(member_client, "/o/acme/workloads/", {"created_by": "", "sort": "name", "per_page": 100})
    assert [w.name for w in rows] == sorted(w.name for w in rows)


def test_unknown_sort_is_refused_by_the_api_and_reported_on_the_page(history, member_client):
    assert member_client.get("/api/v1/o/acme/datasets/", {"sort": "attrs"}).status_code == 400
    r = member_client.get("/o/acme/datasets/", {"sort": "attrs"})
    assert r.status_code == 200 and "Select a valid choice" in r.content.decode() and not r.context["page"].object_list


def test_pagination_controls(history, member_client):
    url = "/o/acme/workloads/"
    first = member_client.get(url, {"created_by": AUDITOR, "per_page": 10})
    body = first.content.decode()
    assert "1 - 10 of 30" in body
    assert f'href="?created_by={AUDITOR.replace("@", "%40")}&amp;per_page=10&amp;page=2"' in body
    assert 'aria-current="page">1<' in body
    third = member_client.get(url, {"created_by": AUDITOR, "per_page": 10, "page": 3}).content.decode()
    assert "21 - 30 of 30" in third and 'rel="next"' not in third and 'rel="prev"' in third
    pages = set()
    for n in (1, 2, 3):
        pages |= workload_names(page_rows(member_client, url, {"created_by": AUDITOR, "per_page": 10, "page": n}))
    assert pages == FAN_NAMES
    # Every rows-per-page choice, and anything else falls back to 25.
    for size, shown in ((10, 10), (25, 25), (50, 30), (100, 30), (7, 25), ("x", 25)):
        assert len(page_rows(member_client, url, {"created_by": AUDITOR, "per_page": size})) == shown
    # A page past the end shows the last one.
    assert "21 - 30 of 30" in member_client.get(url, {"created_by": AUDITOR, "per_page": 10, "page": 99}).content.decode()


def test_api_pagination_has_counts(history, member_client):
    body = member_client.get("/api/v1/o/acme/workloads/", {"created_by": AUDITOR, "per_page": 10, "page": 2}).json()
    assert (body["count"], body["page"], body["pages"], body["per_page"], len(body["results"])) == (30, 2, 3, 10, 10)
    assert "page=3" in body["next"] and body["previous"]


def test_filter_state_lives_in_the_url(history, member_client):
    """Links keep every filter (bookmarkable); sorting and filtering go back to page 1."""
    params = {"created_by": "", "cloud": history.tenant.cloud.pk, "type": "JSON", "page": 1, "per_page": 10}
    body = member_client.get("/o/acme/datasets/", params).content.decode()
    assert f'href="?created_by=&amp;cloud={history.tenant.cloud.pk}&amp;type=JSON&amp;per_page=10&amp;sort=name"' in body
    assert f'<option value="{history.tenant.cloud.pk}" selected>' in body
    assert '<option value="JSON" selected>' in body


def test_creator_chip_is_the_default_and_can_be_removed(history, member_client):
    body = member_client.get("/o/acme/datasets/").content.decode()
    assert "Created by: <strong>me</strong>" in body
    assert 'href="?created_by=" class="chip-remove"' in body
    removed = member_client.get("/o/acme/datasets/", {"created_by": ""}).content.decode()
    assert "Created by: <strong>" not in removed


def test_chips_and_breadcrumb_for_cloud_and_project(history, member_client):
    dev = history.tenant.other_cloud
    sandbox = Project.objects.get(public_id="prj_acme_sandbox")
    body = member_client.get("/o/acme/datasets/", {"created_by": "", "cloud": dev.pk, "project": sandbox.pk}) \
        .content.decode()
    crumbs = body.split('aria-label="Cloud and project"', 1)[1].split("</nav>", 1)[0]
    assert ">All clouds</a>" in crumbs and ">acme-dev</a>" in crumbs and ">prj_acme_sandbox</span>" in crumbs
    assert "Cloud: <strong>acme-dev</strong>" in body and "Project: <strong>prj_acme_sandbox</strong>" in body
    # The project dropdown lists the chosen cloud's projects only.
    select = body.split('id="f-project"', 1)[1].split("</select>", 1)[0]
    assert "prj_acme_sandbox" in select and "training" not in select


def test_type_dropdown_lists_the_types_present(history, member_client):
    body = member_client.get("/o/acme/datasets/").content.decode()
    select = body.split('id="f-type"', 1)[1].split("</select>", 1)[0]
    for t in ("CSV", "JSON", "Parquet", "Text"):
        assert f'<option value="{t}"' in select
    assert "Model" not in select


def test_empty_list_says_so_and_offers_everyone(history, cast, tenant):
    body = tenant.client_for(cast["admin"]).get("/o/acme/models/").content.decode()
    assert "No models match these filters." in body and "Show everyone's models" in body
