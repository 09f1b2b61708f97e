"""The contract against the OpenLineage reference events and the official JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest
from referencing import Registry, Resource

from ingest.contract import ContractError, parse_event, parse_time
from tests.conftest import SHARED

EVENT_FILES = sorted(
    p for p in (SHARED / "events").rglob("*.json") if "expected" not in p.parts and p.name != "metadata.template.json"
)
# The files SOURCES.md marks invalid, and where each is wrong.
INVALID = {
    "event_no_run_id.json": "/run/runId",
    "event_invalid_run_facet.json": "/run/facets/parent/run/runId",
    # Near-complete Spark fixtures: no top-level producer.
    "serde-openlineage-event.json": "/producer",
    "sparksql-1.json": "/producer",
    "sparksql-2.json": "/producer",
}
# Accepted although the strict core schema says no: missing schemaURL (as Marquez accepts).
LENIENT = {"event_without_schema_url.json", "listener_1.json", "listener_2.json"} | {
    p.name for p in (SHARED / "events" / "marquez" / "apples").glob("*.json")
}


def test_reference_events_are_all_found():
    assert len(EVENT_FILES) >= 35


@pytest.fixture(scope="module")
def core_validator():
    schema = json.loads((SHARED / "schema" / "OpenLineage.json").read_text())
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    one_of = {"oneOf": [{"$ref": f"{schema['$id']}#/$defs/{d}"} for d in ("RunEvent", "DatasetEvent", "JobEvent")]}
    return jsonschema.Draft202012Validator(one_of, registry=registry)


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_reference_event_verdict(path, core_validator):
    obj = json.loads(path.read_text())
    if path.name in INVALID:
        with pytest.raises(ContractError) as exc:
            parse_event(obj)
        assert INVALID[path.name] in [e["pointer"] for e in exc.value.errors]
        return
    info = parse_event(obj)
    assert info.kind in ("run", "dataset", "job")
    # Where we accept, the official schema agrees, except for our documented leniency.
    schema_ok = core_validator.is_valid(obj)
    assert schema_ok or path.name in LENIENT, list(core_validator.iter_errors(obj))[:1]


def test_canonical_form_is_independent_of_whitespace_and_key_order():
    a = parse_event(json.loads('{"eventTime":"2024-01-01T00:00:00Z","producer":"p","dataset":{"namespace":"n","name":"x"}}'))
    b = parse_event(json.loads('{ "dataset": {"name": "x", "namespace": "n"}, "producer": "p", "eventTime": "2024-01-01T00:00:00Z" }'))
    assert a.content_hash == b.content_hash and a.canonical == b.canonical


@pytest.mark.parametrize(
    ("mutate", "pointer", "words"),
    [
        (lambda e: e.pop("eventTime"), "/eventTime", "required"),
        (lambda e: e.update(eventTime="yesterday"), "/eventTime", "RFC 3339"),
        (lambda e: e.update(eventTime=12), "/eventTime", "must be a string"),
        (lambda e: e.update(eventType="FINISHED"), "/eventType", "must be one of"),
        (lambda e: e["run"].update(runId="not-a-uuid"), "/run/runId", "UUID"),
        (lambda e: e["run"].update(runId=7), "/run/runId", "must be a string"),
        (lambda e: e.update(run="x"), "/run", "must be an object"),
        (lambda e: e["job"].pop("name"), "/job/name", "required"),
        (lambda e: e.update(inputs={}), "/inputs", "must be an array"),
        (lambda e: e.update(inputs=[{"namespace": "s3://b"}]), "/inputs/0/name", "required"),
        (lambda e: e.update(outputs=[{"namespace": "s3://b", "name": "k", "facets": []}]), "/outputs/0/facets", "must be an object"),
        (lambda e: e["run"]["facets"].update(workload={"type": "robot", "id": "w"}), "/run/facets/workload/type", "must be one of"),
        (lambda e: e["run"]["facets"].update(workload={"type": "job"}), "/run/facets/workload/id", "required"),
        (lambda e: e["run"]["facets"].update(workload={"type": "job", "id": "w", "clusterStartedAt": "soon"}),
         "/run/facets/workload/clusterStartedAt", "RFC 3339"),
        (lambda e: e["job"].update(name="a\x00b"), "/job/name", "NUL"),
        (lambda e: e["run"]["facets"].update({"bad\x00key": {}}), "/run/facets/bad\x00key", "NUL"),
        (lambda e: e["job"].update(name="\ud800"), "/job/name", "surrogate"),
        (lambda e: e.update(producer=None), "/producer", "required"),
    ],
)
def test_invalid_events_say_what_and_where(mutate, pointer, words):
    event = {
        "eventType": "START", "eventTime": "2024-05-01T10:00:00Z", "producer": "https://p", "schemaURL": "https://s",
        "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8", "facets": {}}, "job": {"namespace": "n", "name": "j"},
    }
    mutate(event)
    with pytest.raises(ContractError) as exc:
        parse_event(event)
    matching = [e for e in exc.value.errors if e["pointer"] == pointer.replace("\x00", "\x00")]
    assert matching, exc.value.errors
    assert words in matching[0]["message"]


def test_deep_nesting_is_refused_with_its_location():
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    event = {"eventTime": "2024-05-01T10:00:00Z", "producer": "p", "dataset": {"namespace": "n", "name": "d", "facets": {"f": deep}}}
    with pytest.raises(ContractError) as exc:
        parse_event(event, max_depth=64)
    assert "nesting deeper than 64" in exc.value.errors[0]["message"]
    assert exc.value.errors[0]["pointer"].startswith("/dataset/facets/f/x/x")


def test_not_an_event_at_all():
    with pytest.raises(ContractError) as exc:
        parse_event({"hello": "world"})
    assert "not an OpenLineage event" in exc.value.errors[-1]["message"]
    with pytest.raises(ContractError):
        parse_event(["not", "an", "object"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-12-28T19:51:01.641499Z", datetime(2020, 12, 28, 19, 51, 1, 641499, tzinfo=UTC)),
        ("2020-12-28T19:51:01.641499123Z", datetime(2020, 12, 28, 19, 51, 1, 641499, tzinfo=UTC)),
        ("2020-12-28T19:51:01.641499", datetime(2020, 12, 28, 19, 51, 1, 641499, tzinfo=UTC)),
        ("2020-12-28T19:52:00.001+10:00", datetime(2020, 12, 28, 19, 52, 0, 1000, tzinfo=timezone(timedelta(hours=10)))),
    ],
)
def test_event_times(text, expected):
    assert parse_time(text) == expected


def test_cluster_key_prefers_cluster_id_then_root_run():
    base = {"eventTime": "2024-05-01T10:00:00Z", "producer": "p", "job": {"namespace": "n", "name": "j"}}
    run = "3f5e83fa-3480-44ff-99c5-ff943904e5e8"
    root = "11111111-1111-4111-8111-111111111111"
    with_cluster = {**base, "run": {"runId": run, "facets": {"workload": {"type": "job", "id": "w", "clusterId": "c-1"}}}}
    assert parse_event(with_cluster).cluster_key == "cluster:c-1"
    with_root = {**base, "run": {"runId": run, "facets": {"parent": {
        "run": {"runId": run}, "job": {"namespace": "n", "name": "p"},
        "root": {"run": {"runId": root}, "job": {"namespace": "n", "name": "r"}}}}}}
    assert parse_event(with_root).cluster_key == f"run:{root}"
    assert parse_event({**base, "run": {"runId": run}}).cluster_key == f"run:{run}"
