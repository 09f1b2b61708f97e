"""The toggle history, changed through the governance API by a cloud owner, decides capture at
once for events the official OpenLineage client sends to the live ingest endpoint (DESIGN.md,
"When lineage is captured")."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
import requests
from django.utils import timezone
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

from clouds.services import create_cloud, grant_ownership
from ingest.models import RawEvent
from tests.e2e.support import WorkloadRunFacet, iso
from tests.orgs.conftest import client_as

pytestmark = pytest.mark.django_db(transaction=True)
PRODUCER = "https://github.com/example/lineage-governance-tests"


class Responses:
    """A requests response hook: what the ingest endpoint answered to each event."""

    def __init__(self) -> None:
        self.items: list[tuple[int, dict]] = []

    def __call__(self, response: requests.Response, *args, **kwargs) -> None:
        self.items.append((response.status_code, response.json()))

    @property
    def last(self) -> str:
        status, body = self.items[-1]
        return {201: "captured", 200: body.get("status")}.get(status, f"HTTP {status}")


def ol_client(url: str, key: str, hook: Responses) -> OpenLineageClient:
    session = requests.Session()
    session.hooks["response"].append(hook)
    return OpenLineageClient(transport=HttpTransport(HttpConfig(
        url=url, endpoint="api/v1/lineage", auth=ApiKeyTokenProvider({"api_key": key}), session=session)))


def event(state: RunState, cluster: str, started: datetime | None, run_id: str) -> RunEvent:
    facet = WorkloadRunFacet(type="workspace", id=f"wl-{cluster}", name=cluster, clusterId=cluster,
                             clusterStartedAt=iso(started) if started else None)
    return RunEvent(eventType=state, eventTime=iso(timezone.now()), producer=PRODUCER,
                    run=Run(runId=run_id, facets={"workload": facet}), job=Job(namespace="lab", name=cluster))


def test_toggle_history_decides_capture_for_clusters_by_start_time(live_server, gov_cast, tenant):
    lab, _ = create_cloud(org=tenant.org, name="acme-lab")  # never switched on: off
    grant_ownership(cloud=lab, user=gov_cast["owner"])
    owner = client_as(gov_cast["owner"])
    api = f"/api/v1/o/acme/clouds/{lab.pk}"
    key = owner.post(f"{api}/keys/", {"name": "lab workloads"}, content_type="application/json").json()["key"]

    def flip(enabled: bool) -> None:
        response = owner.put(f"{api}/lineage/", json.dumps({"enabled": enabled}), content_type="application/json")
        assert response.json() == {"enabled": enabled, "changed": True}

    hook = Responses()
    client = ol_client(live_server.url, key, hook)
    runs = {name: str(uuid.uuid4()) for name in ("early", "while_on", "first_seen_on", "after_off", "first_seen_off")}

    def send(name: str, state: RunState, started: datetime | None, cluster: str | None = None) -> str:
        client.emit(event(state, cluster or name, started, runs[name]))
        return hook.last

    early_start = timezone.now()  # a Workspace already running when tracking is turned on
    assert send("early", RunState.START, early_start) == "dropped"

    flip(True)
    assert send("early", RunState.RUNNING, early_start) == "dropped", "toggling on does not capture running clusters"
    on_start = timezone.now()
    assert send("while_on", RunState.START, on_start) == "captured"
    # No clusterStartedAt: the cluster's first sighting stands for its start.
    assert send("first_seen_on", RunState.START, None) == "captured"

    flip(False)
    assert send("while_on", RunState.COMPLETE, on_start) == "captured", "turning off keeps capturing running clusters"
    assert send("first_seen_on", RunState.COMPLETE, None) == "captured"
    assert send("after_off", RunState.START, timezone.now()) == "dropped"
    assert send("first_seen_off", RunState.START, None) == "dropped"

    flip(True)
    assert send("early", RunState.COMPLETE, early_start) == "dropped", "a cluster started while off stays untracked"

    stored = set(RawEvent.objects.filter(cloud=lab).values_list("run_id", flat=True))
    assert {str(r) for r in stored} == {runs["while_on"], runs["first_seen_on"]}
    history = owner.get(f"{api}/lineage/history/").json()["results"]
    assert [(h["enabled"], h["actor"]) for h in history] == [(True, "owner@acme.test"), (False, "owner@acme.test"),
                                                             (True, "owner@acme.test")]
