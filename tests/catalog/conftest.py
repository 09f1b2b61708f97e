"""A hand-built lineage history with known answers, sent through the real ingest endpoint.

    RAW --> ingest --+                     +--> serve (service) --> PRED
                     +--> FEAT --> train --> MODEL --+
    RAW2 -> ingest2 -+        |                      +--> late (first seen at minute 100)
       (acme-dev cloud)       +--> evaluate <--------+   (evaluate reads FEAT and MODEL)
                                      |
                                      v
                                   REPORT <--> refresh <--> SUMMARY   (a cycle through two runs:
                                                                        run 1 REPORT->SUMMARY,
                                                                        run 2 SUMMARY->REPORT)
    HUB --> fan-00 ... fan-29   (a dataset with 30 readers, for caps and "N more")

Owners: ingest, ingest2, refresh -> member@acme.test; train, evaluate, late -> owner@acme.test;
serve -> admin@acme.test; fans -> auditor@acme.test. An asset's creator is its first producer's
owner (a reader's when nobody wrote it). globex has its own look-alike history, which must never
show up in acme's pages.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from catalog.models import Asset, Workload
from tests.conftest import Tenant, post_event
from tests.events import PRODUCER, at, dataset, model, run_event, workload

MEMBER, OWNER, ADMIN, AUDITOR = "member@acme.test", "owner@acme.test", "admin@acme.test", "auditor@acme.test"

RAW = dataset("s3://raw", "events/2026-11-01.csv", fields=[("user_id", "int"), ("event", "string")])
RAW2 = dataset("s3://raw", "clicks/2026-11-01.json")
FEAT_V1 = dataset("s3://features", "daily/features.parquet", fields=[("user_id", "int"), ("f1", "double")])
FEAT_V2 = dataset(
    "s3://features", "daily/features.parquet",
    fields=[("user_id", "int"), ("f1", "float"), ("f2", "double"), ("geo", "struct")],
    storage={"_producer": PRODUCER, "_schemaURL": "x", "storageLayer": "s3", "fileFormat": "parquet"},
    columnLineage={"_producer": PRODUCER, "_schemaURL": "x", "fields": {
        "user_id": {"inputFields": [{"namespace": "s3://raw", "name": "events/2026-11-01.csv", "field": "user_id",
                                     "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}]},
    }},
)
# Nested fields for the schema view.
FEAT_V2["facets"]["schema"]["fields"][3]["fields"] = [{"name": "lat", "type": "double"}, {"name": "lon", "type": "double"}]
MODEL = model("mlflow://tracking", "models/m-churn", modelId="m-churn", flavor="sklearn", registeredName="churn",
              registeredVersion="3", runId="abc", experimentId="7", artifactPath="model")
REPORT = dataset("s3://reports", "eval/report.json")
SUMMARY = dataset("s3://reports", "eval/summary.txt")
PRED = dataset("s3://serving", "predictions.jsonl")
HUB = dataset("s3://shared", "hub/reference.parquet")
FANS = 30


def wl(wid: str, *, owner: str, type: str = "job", project: str = "prj_acme_training", **extra) -> dict:
    return workload(wid, type=type, owner=owner, name=wid, projectId=project, status="SUCCEEDED", **extra)


def acme_events() -> tuple[list[dict], list[dict]]:
    """(events for acme-prod, events for acme-dev)."""
    prod = [
        run_event("COMPLETE", "ingest-1", job=("ingest", "etl"), time=at(5), workload_facet=wl("ingest", owner=MEMBER),
                  inputs=[RAW], outputs=[FEAT_V1]),
        run_event("COMPLETE", "train-1", job=("train", "fit"), time=at(10), workload_facet=wl("train", owner=OWNER),
                  inputs=[FEAT_V2], outputs=[MODEL]),
        run_event("COMPLETE", "evaluate-1", job=("evaluate", "eval"), time=at(15),
                  workload_facet=wl("evaluate", owner=OWNER), inputs=[FEAT_V2, MODEL], outputs=[REPORT]),
        run_event("COMPLETE", "serve-1", job=("serve", "load"), time=at(20),
                  workload_facet=wl("serve", owner=ADMIN, type="service"), inputs=[MODEL], outputs=[PRED]),
        run_event("COMPLETE", "refresh-1", job=("refresh", "step"), time=at(25),
                  workload_facet=wl("refresh", owner=MEMBER), inputs=[REPORT], outputs=[SUMMARY]),
        run_event("COMPLETE", "refresh-2", job=("refresh", "step"), time=at(30),
                  workload_facet=wl("refresh", owner=MEMBER), inputs=[SUMMARY], outputs=[REPORT]),
        run_event("COMPLETE", "late-1", job=("late", "score"), time=at(100), workload_facet=wl("late", owner=OWNER),
                  inputs=[MODEL]),
    ]
    prod += [
        run_event("COMPLETE", f"fan-{i:02d}", job=(f"fan-{i:02d}", "read"), time=at(40 + i),
                  workload_facet=wl(f"fan-{i:02d}", owner=AUDITOR), inputs=[HUB])
        for i in range(FANS)
    ]
    dev = [
        run_event("COMPLETE", "ingest2-1", job=("ingest2", "etl"), time=at(6),
                  workload_facet=wl("ingest2", owner=MEMBER, type="workspace", project="prj_acme_sandbox"),
                  inputs=[RAW2], outputs=[FEAT_V2]),
    ]
    return prod, dev


def globex_events() -> list[dict]:
    return [
        run_event("COMPLETE", "globex-1", job=("globex-train", "fit"), time=at(5),
                  workload_facet=workload("globex-train", owner="spy@globex.test", name="globex-train",
                                          projectId="prj_globex_training"),
                  inputs=[dataset("s3://raw", "globex-secret.csv")], outputs=[model("mlflow://g", "globex-model")]),
    ]


def post_batch(key: str, events: list[dict]) -> None:
    r = post_event(Client(), key, events, path="/api/v1/lineage/batch")
    assert r.status_code == 200, r.content
    assert r.json()["summary"]["failed"] == 0, r.content


@dataclass
class History:
    tenant: Tenant

    def asset(self, name: str) -> Asset:
        return Asset.objects.get(org=self.tenant.org, name=name)

    def workload(self, external_id: str) -> Workload:
        return Workload.objects.get(org=self.tenant.org, external_id=external_id)

    def node(self, label: str) -> str:
        """`asset:<id>` / `workload:<id>` for a short label used in the tests."""
        assets = {"RAW": RAW, "RAW2": RAW2, "FEAT": FEAT_V1, "MODEL": MODEL, "REPORT": REPORT, "SUMMARY": SUMMARY,
                  "PRED": PRED, "HUB": HUB}
        if label in assets:
            return f"asset:{self.asset(assets[label]['name']).pk}"
        return f"workload:{self.workload(label).pk}"

    def label(self, node_id: str) -> str:
        kind, pk = node_id.split(":")
        if kind == "workload":
            return Workload.objects.get(pk=pk).external_id
        name = Asset.objects.get(pk=pk).name
        return next(k for k, v in {"RAW": RAW, "RAW2": RAW2, "FEAT": FEAT_V1, "MODEL": MODEL, "REPORT": REPORT,
                                   "SUMMARY": SUMMARY, "PRED": PRED, "HUB": HUB}.items() if v["name"] == name)


@pytest.fixture
def history(cast, tenant, outsider_tenant) -> History:
    prod, dev = acme_events()
    post_batch(tenant.key, prod)
    post_batch(tenant.other_key, dev)
    post_batch(outsider_tenant.key, globex_events())
    return History(tenant)


# --- Hostile input ---------------------------------------------------------------------------------

EVIL = "<script>alert(1)</script>"
EVIL_IMG = '"><img src=x onerror=alert(2)>'


def hostile_event() -> dict:
    evil_ds = dataset(
        "s3://evil", EVIL, fields=[(EVIL_IMG, "<b>int</b>")],
        storage={"_producer": PRODUCER, "_schemaURL": "x", "storageLayer": EVIL, "fileFormat": EVIL_IMG},
        symlinks={"_producer": PRODUCER, "_schemaURL": "x",
                  "identifiers": [{"namespace": EVIL, "name": EVIL_IMG, "type": "TABLE"}]},
        dataSource={"_producer": PRODUCER, "_schemaURL": "x", "name": EVIL, "uri": "javascript:alert(5)"},
        columnLineage={"_producer": PRODUCER, "_schemaURL": "x", "fields": {
            EVIL: {"inputFields": [{"namespace": EVIL_IMG, "name": EVIL, "field": EVIL,
                                    "transformations": [{"type": EVIL_IMG}]}]}}},
        custom={"_producer": PRODUCER, "_schemaURL": "x", "note": EVIL},
    )
    evil_model = model("mlflow://evil", EVIL_IMG, registeredName=EVIL, registeredVersion=EVIL_IMG, flavor=EVIL_IMG,
                       modelId=EVIL)
    event = run_event(
        "FAIL", "evil-run", job=("evil-ns", EVIL), time=at(1),
        workload_facet=workload("wl-evil", name=EVIL_IMG, owner="member@acme.test", status=EVIL,
                                rayVersion=EVIL, projectId="prj_acme_training"),
        inputs=[evil_ds], outputs=[evil_model],
        errorMessage={"_producer": PRODUCER, "_schemaURL": "x", "message": EVIL, "programmingLanguage": "python"},
    )
    event["job"]["facets"]["sourceCodeLocation"] = {"_producer": PRODUCER, "_schemaURL": "x", "type": "git",
                                                    "url": "javascript:alert(3)", "repoUrl": EVIL}
    return event


@pytest.fixture
def hostile(cast, tenant):
    """Hostile names and facets everywhere; the FAIL event carries no outputs, so send a COMPLETE too."""
    event = hostile_event()
    r = post_event(Client(), tenant.key, event)
    assert r.status_code in (200, 201), r.content
    complete = hostile_event()
    complete["eventType"], complete["eventTime"] = "COMPLETE", at(2)
    assert post_event(Client(), tenant.key, complete).status_code in (200, 201)
    return {"dataset": Asset.objects.get(org=tenant.org, name=EVIL),
            "model": Asset.objects.get(org=tenant.org, name=EVIL_IMG),
            "workload": Workload.objects.get(org=tenant.org, external_id="wl-evil")}


@pytest.fixture
def member_client(cast, tenant) -> Client:
    return tenant.client_for(cast["member"])
