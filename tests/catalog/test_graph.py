"""Related items, the lineage graph and impact analysis against the hand-built history (see
conftest.py) whose answers are known: fan-in, fan-out, a cycle through repeated runs, a model
trained on a dataset and loaded by a service, depth, direction, as-of and truncation."""

from __future__ import annotations

import csv
import io

import pytest

from catalog import graph
from orgs.models import AuditEntry
from tests.catalog.conftest import FANS
from tests.events import at

pytestmark = pytest.mark.django_db

GRAPH = "/api/v1/o/acme/graph/"
IMPACT = "/api/v1/o/acme/impact/"


def get_graph(client, history, label, **params):
    r = client.get(GRAPH, {"node": history.node(label), **params})
    assert r.status_code == 200, r.content
    return r.json()


def hops(history, body) -> dict[str, int]:
    return {history.label(n["id"]): n["hop"] for n in body["nodes"]}


def edges(history, body) -> set[tuple[str, str]]:
    return {(history.label(e["source"]), history.label(e["target"])) for e in body["edges"]}


# --- Related items --------------------------------------------------------------------------------


def test_dataset_related_workloads_fan_in_and_fan_out(history, member_client):
    feat = history.asset("daily/features.parquet")
    up = member_client.get(f"/api/v1/o/acme/datasets/{feat.pk}/upstream/").json()
    down = member_client.get(f"/api/v1/o/acme/datasets/{feat.pk}/downstream/").json()
    assert {w["external_id"] for w in up["results"]} == {"ingest", "ingest2"}
    assert {w["external_id"] for w in down["results"]} == {"train", "evaluate"}
    assert up["count"] == 2 and down["count"] == 2


def test_model_trained_on_a_dataset_and_loaded_by_a_service(history, member_client):
    m = history.asset("models/m-churn")
    up = member_client.get(f"/api/v1/o/acme/models/{m.pk}/upstream/").json()["results"]
    down = member_client.get(f"/api/v1/o/acme/models/{m.pk}/downstream/").json()["results"]
    assert [w["external_id"] for w in up] == ["train"]
    assert {(w["external_id"], w["kind"]) for w in down} == {("evaluate", "job"), ("serve", "service"), ("late", "job")}
    train = history.workload("train")
    read = member_client.get(f"/api/v1/o/acme/workloads/{train.pk}/upstream/").json()["results"]
    wrote = member_client.get(f"/api/v1/o/acme/workloads/{train.pk}/downstream/").json()["results"]
    assert [a["name"] for a in read] == ["daily/features.parquet"]
    assert [(a["name"], a["kind"]) for a in wrote] == [("models/m-churn", "model")]


def test_workload_runs_endpoint_lists_its_runs(history, member_client):
    refresh = history.workload("refresh")
    body = member_client.get(f"/api/v1/o/acme/workloads/{refresh.pk}/runs/").json()
    assert body["count"] == 2 and {r["state"] for r in body["results"]} == {"COMPLETE"}


def test_dataset_page_shows_related_workloads_and_empty_states(history, member_client):
    feat = history.asset("daily/features.parquet")
    page = member_client.get(f"/o/acme/datasets/{feat.pk}/").content.decode()
    for name in ("ingest", "ingest2", "train", "evaluate"):
        assert f">{name}</a>" in page
    raw = history.asset("events/2026-11-01.csv")
    page = member_client.get(f"/o/acme/datasets/{raw.pk}/").content.decode()
    assert "No upstream found" in page and ">ingest</a>" in page
    pred = history.asset("predictions.jsonl")
    assert "No downstream found" in member_client.get(f"/o/acme/datasets/{pred.pk}/").content.decode()


def test_workload_page_shows_related_resources_jobs_and_runs(history, member_client):
    evaluate = history.workload("evaluate")
    page = member_client.get(f"/o/acme/workloads/{evaluate.pk}/").content.decode()
    upstream, downstream = page.split("Downstream", 1)
    assert "daily/features.parquet" in upstream and "churn v3" in upstream  # a model shows by its registered name
    assert "eval/report.json" in downstream
    assert "evaluate.eval" not in page  # the job is shown by namespace and name, separately
    assert ">eval<" in page and "Completed" in page


def test_dataset_page_shows_schema_versions_nested_fields_and_column_lineage(history, member_client):
    feat = history.asset("daily/features.parquet")
    page = member_client.get(f"/o/acme/datasets/{feat.pk}/").content.decode()
    assert "Version 2" in page and "Version 1" in page
    assert "+ <span class=\"mono\">f2</span>" in page  # added between the versions
    assert "f1</span> <span class=\"mono muted\">double → float" in page  # retyped
    assert "geo.lat" in page and "lat</td>" in page  # nested fields, in the diff and the schema table
    assert "Column lineage" in page and "s3://raw/events/2026-11-01.csv</a>" in page  # input linked to its page
    assert "fileFormat" in page and "parquet" in page


def test_model_page_shows_mlflow_facts(history, member_client):
    m = history.asset("models/m-churn")
    page = member_client.get(f"/o/acme/models/{m.pk}/").content.decode()
    assert "MLflow model" in page and "sklearn" in page and "Registered version" in page
    assert "churn v3" in page


def test_a_model_id_on_the_datasets_url_is_404(history, member_client):
    m = history.asset("models/m-churn")
    assert member_client.get(f"/o/acme/datasets/{m.pk}/").status_code == 404
    assert member_client.get(f"/api/v1/o/acme/datasets/{m.pk}/").status_code == 404


# --- The graph ------------------------------------------------------------------------------------


def test_graph_defaults_to_one_hop_both_ways(history, member_client):
    body = get_graph(member_client, history, "FEAT")
    assert hops(history, body) == {"FEAT": 0, "ingest": -1, "ingest2": -1, "train": 1, "evaluate": 1}
    assert edges(history, body) == {("ingest", "FEAT"), ("ingest2", "FEAT"), ("FEAT", "train"), ("FEAT", "evaluate")}
    assert body["counts"] == {"upstream": 2, "downstream": 2} and body["truncated"] is False
    feat = next(n for n in body["nodes"] if n["hop"] == 0)
    assert feat["counts"] == {"upstream": 2, "downstream": 2}
    assert feat["url"] == f"/o/acme/datasets/{history.asset('daily/features.parquet').pk}/"
    train = next(n for n in body["nodes"] if n["name"] == "train")
    assert train["counts"] == {"upstream": 1, "downstream": 1} and train["url"].startswith("/o/acme/workloads/")


def test_graph_downstream_by_depth(history, member_client):
    depth2 = get_graph(member_client, history, "FEAT", direction="downstream", depth=2)
    assert hops(history, depth2) == {"FEAT": 0, "train": 1, "evaluate": 1, "MODEL": 2, "REPORT": 2}
    depth5 = get_graph(member_client, history, "FEAT", direction="downstream", depth=5)
    assert hops(history, depth5) == {"FEAT": 0, "train": 1, "evaluate": 1, "MODEL": 2, "REPORT": 2, "serve": 3,
                                     "late": 3, "refresh": 3, "PRED": 4, "SUMMARY": 4}
    # evaluate also reads MODEL: that edge is part of the downstream picture.
    assert ("MODEL", "evaluate") in edges(history, depth5)


def test_graph_upstream_root_cause(history, member_client):
    body = get_graph(member_client, history, "MODEL", direction="upstream", depth=4)
    assert hops(history, body) == {"MODEL": 0, "train": -1, "FEAT": -2, "ingest": -3, "ingest2": -3, "RAW": -4,
                                   "RAW2": -4}


def test_graph_walks_a_cycle_through_repeated_runs_without_looping(history, member_client):
    body = get_graph(member_client, history, "refresh", depth=10)
    found = hops(history, body)
    # refresh reads and writes both REPORT and SUMMARY (two runs); REPORT's other producer is evaluate.
    assert found["refresh"] == 0 and found["REPORT"] in (-1, 1) and found["SUMMARY"] in (-1, 1)
    assert {("refresh", "REPORT"), ("REPORT", "refresh"), ("refresh", "SUMMARY"), ("SUMMARY", "refresh")} <= \
        edges(history, body)
    assert "evaluate" in found and "RAW" in found  # the walk went on upstream past the cycle


def test_graph_as_of_hides_edges_first_seen_later(history, member_client):
    now = get_graph(member_client, history, "MODEL", direction="downstream")
    assert set(hops(history, now)) == {"MODEL", "evaluate", "serve", "late"}
    before = get_graph(member_client, history, "MODEL", direction="downstream", as_of=at(50))
    assert set(hops(history, before)) == {"MODEL", "evaluate", "serve"}
    model = next(n for n in before["nodes"] if n["hop"] == 0)
    assert model["counts"]["downstream"] == 2  # counts follow as-of too
    early = get_graph(member_client, history, "FEAT", as_of=at(5))
    assert set(hops(history, early)) == {"FEAT", "ingest"}  # ingest2 wrote it a minute later


def test_graph_caps_neighbours_per_node_and_pages_the_rest(history, member_client):
    body = get_graph(member_client, history, "HUB", per_node=25)
    fans = [n for n in body["nodes"] if n["hop"] == 1]
    assert len(fans) == 25 and body["truncated"] is True
    hub = next(n for n in body["nodes"] if n["hop"] == 0)
    assert hub["counts"]["downstream"] == FANS  # the UI shows "+5 more"
    # Most recently seen first: fan-29 .. fan-05; the next page holds fan-04 .. fan-00.
    assert {n["name"] for n in fans} == {f"fan-{i:02d}" for i in range(5, FANS)}
    rest = get_graph(member_client, history, "HUB", per_node=25, offset=25, direction="downstream")
    assert {n["name"] for n in rest["nodes"] if n["hop"] == 1} == {f"fan-{i:02d}" for i in range(5)}
    assert rest["truncated"] is False


def test_graph_node_limit_truncates(history, member_client):
    body = get_graph(member_client, history, "HUB", limit=10, per_node=200)
    assert len(body["nodes"]) == 10 and body["truncated"] is True
    assert len(body["edges"]) == 9  # only edges between returned nodes


def test_graph_bounds_are_enforced(history, member_client):
    node = history.node("FEAT")
    for params in ({"depth": 0}, {"depth": graph.MAX_DEPTH + 1}, {"limit": graph.GRAPH_MAX_LIMIT + 1},
                   {"per_node": 0}, {"direction": "sideways"}, {"as_of": "yesterday"}):
        assert member_client.get(GRAPH, {"node": node, **params}).status_code == 400, params
    for bad in ("", "asset", "asset:x", "table:1", "asset:1:2"):
        assert member_client.get(GRAPH, {"node": bad}).status_code == 400, bad
    assert member_client.get(GRAPH, {"node": "asset:999999"}).status_code == 404


# --- Impact analysis ------------------------------------------------------------------------------


def impact_rows(client, history, label, **params):
    r = client.get(IMPACT, {"node": history.node(label), "per_page": 100, **params})
    assert r.status_code == 200, r.content
    return r.json()


def test_impact_lists_everything_downstream_with_hop_counts(history, member_client):
    body = impact_rows(member_client, history, "FEAT", depth=5)
    assert {(r["name"], r["hop"]) for r in body["results"]} == {
        ("train", 1), ("evaluate", 1), ("churn v3", 2), ("eval/report.json", 2), ("serve", 3), ("late", 3),
        ("refresh", 3), ("predictions.jsonl", 4), ("eval/summary.txt", 4)}
    assert body["count"] == 9 and body["truncated"] is False
    assert [r["hop"] for r in body["results"]] == sorted(r["hop"] for r in body["results"])


def test_impact_upstream_is_root_cause(history, member_client):
    body = impact_rows(member_client, history, "PRED", direction="upstream", depth=10)
    names = {r["name"] for r in body["results"]}
    assert {"serve", "churn v3", "train", "daily/features.parquet", "ingest", "ingest2", "events/2026-11-01.csv",
            "clicks/2026-11-01.json"} == names


def test_impact_filters_by_kind_name_depth_and_as_of(history, member_client):
    assert {r["name"] for r in impact_rows(member_client, history, "FEAT", depth=5, kind="service")["results"]} == \
        {"serve"}
    assert {r["name"] for r in impact_rows(member_client, history, "FEAT", depth=5, q="REPORT.json")["results"]} == \
        {"eval/report.json"}
    assert impact_rows(member_client, history, "FEAT", depth=1)["count"] == 2
    assert "late" not in {r["name"] for r in impact_rows(member_client, history, "FEAT", depth=5,
                                                         as_of=at(50))["results"]}


def test_impact_truncates_at_its_limit(history, member_client):
    body = impact_rows(member_client, history, "HUB", limit=10)
    assert body["count"] == 10 and body["truncated"] is True


def test_impact_page_and_csv_export(history, cast, tenant):
    client = tenant.client_for(cast["auditor"])
    feat = history.asset("daily/features.parquet")
    page = client.get(f"/o/acme/datasets/{feat.pk}/impact/", {"depth": 5})
    assert page.status_code == 200 and "Downstream within 5 hops: 9" in page.content.decode()
    r = client.get(f"/o/acme/datasets/{feat.pk}/impact/csv/", {"depth": 5, "kind": "job"})
    assert r["Content-Type"].startswith("text/csv") and "attachment" in r["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0][:4] == ["hop", "type", "kind", "name"]
    assert {(row[0], row[3]) for row in rows[1:]} == {("1", "train"), ("1", "evaluate"), ("3", "late"),
                                                      ("3", "refresh")}
    entry = AuditEntry.objects.filter(org=tenant.org, action="catalog.impact_export").get()
    assert entry.actor == cast["auditor"] and entry.after["rows"] == 4 and entry.target_id == str(feat.pk)


def test_workload_and_model_impact_pages(history, member_client):
    serve = history.workload("serve")
    page = member_client.get(f"/o/acme/workloads/{serve.pk}/impact/", {"direction": "upstream", "depth": 2})
    assert page.status_code == 200 and "churn v3" in page.content.decode()
    m = history.asset("models/m-churn")
    assert member_client.get(f"/o/acme/models/{m.pk}/impact/").status_code == 200
    assert member_client.get(f"/o/acme/models/{m.pk}/impact/csv/").status_code == 200
    assert member_client.get(f"/o/acme/workloads/{serve.pk}/impact/csv/").status_code == 200


def test_lineage_pages_point_the_script_at_the_graph_api(history, member_client):
    feat = history.asset("daily/features.parquet")
    page = member_client.get(f"/o/acme/datasets/{feat.pk}/lineage/").content.decode()
    assert f'data-focus="asset:{feat.pk}"' in page and 'data-api="/api/v1/o/acme/graph/"' in page
    assert "catalog/lineage.js" in page
    serve = history.workload("serve")
    assert f'data-focus="workload:{serve.pk}"' in member_client.get(f"/o/acme/workloads/{serve.pk}/lineage/").content.decode()


def test_openapi_schema_describes_the_catalog_endpoints(cast, tenant):
    body = tenant.client_for(cast["member"]).get("/api/v1/schema/").content.decode()
    for path in ("/api/v1/o/{org_slug}/graph/", "/api/v1/o/{org_slug}/impact/",
                 "/api/v1/o/{org_slug}/datasets/{id}/upstream/", "/api/v1/o/{org_slug}/workloads/{id}/runs/",
                 "/api/v1/o/{org_slug}/models/{id}/schema-versions/"):
        assert path in body, path
    for parameter in ("per_node", "as_of", "created_by", "written_by", "sort"):
        assert f"name: {parameter}" in body, parameter


def test_a_graph_that_fits_its_limit_exactly_is_not_truncated(history, member_client):
    body = get_graph(member_client, history, "FEAT", limit=5)  # FEAT, ingest, ingest2, train, evaluate
    assert len(body["nodes"]) == 5 and body["truncated"] is False
    body = get_graph(member_client, history, "FEAT", limit=4)
    assert len(body["nodes"]) == 4 and body["truncated"] is True


def test_the_graph_answer_is_what_drf_fields_make_of_it(history):
    """GraphSerializer formats the answer by hand (speed); DRF's field by field gives the same."""
    from rest_framework import serializers

    from catalog.api.serializers import GraphSerializer

    org = history.tenant.org
    for label, params in (("FEAT", {"depth": 4}), ("HUB", {"per_node": 2}), ("train", {"as_of": at(30), "depth": 2})):
        if "as_of" in params:
            params = {**params, "as_of": serializers.DateTimeField().to_internal_value(params["as_of"])}
        kind, _, pk = history.node(label).partition(":")
        data = graph.graph(org, (kind, int(pk)), **params)
        ours = GraphSerializer(data).data
        assert ours == serializers.Serializer.to_representation(GraphSerializer(data), data), label
        assert list(ours) == list(GraphSerializer().fields) and ours["nodes"] and ours["edges"]
        assert list(ours["nodes"][0]) == list(GraphSerializer().fields["nodes"].child.fields)
