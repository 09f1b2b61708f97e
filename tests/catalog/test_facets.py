"""Plain-function tests: reading facets for people, and CSV cells that spreadsheets cannot run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog import facets, graph
from catalog.views import csv_cell

V1 = [{"name": "id", "type": "int"}, {"name": "bbox", "type": "struct", "fields": [
    {"name": "x", "type": "float"}, {"name": "y", "type": "float"}]}, {"name": "gone", "type": "string"}]
V2 = [{"name": "id", "type": "bigint"}, {"name": "bbox", "type": "struct", "fields": [
    {"name": "x", "type": "float"}, {"name": "y", "type": "float"}, {"name": "w", "type": "float"}]},
    {"name": "label", "type": "string", "description": "class"}]


def test_schema_rows_indent_nested_fields():
    rows = facets.schema_rows(V2)
    assert [(r.depth, r.name, r.type) for r in rows] == [
        (0, "id", "bigint"), (0, "bbox", "struct"), (1, "x", "float"), (1, "y", "float"), (1, "w", "float"),
        (0, "label", "string")]
    assert rows[-1].description == "class"


def test_schema_change_reports_added_removed_and_retyped_paths():
    change = facets.schema_change(V1, V2)
    assert change.added == [("bbox.w", "float"), ("label", "string")]
    assert change.removed == [("gone", "string")]
    assert change.retyped == [("id", "int", "bigint")]
    assert facets.schema_change(V2, list(reversed(V2))).empty


@pytest.mark.parametrize("junk", [None, "x", 3, [1, "a", None], [{"fields": "nope"}], {"fields": {}}])
def test_facet_readers_survive_malformed_input(junk):
    assert isinstance(facets.schema_rows(junk), list)
    assert isinstance(facets.flatten(junk), dict)
    assert facets.column_lineage(junk) == [] or isinstance(junk, dict)
    assert isinstance(facets.mlflow_summary(junk), list)
    assert isinstance(facets.symlinks(junk), list)
    assert isinstance(facets.flat_pairs(junk), list)


def test_deeply_nested_schema_is_bounded():
    fields: list = []
    node = fields
    for i in range(100):
        child: list = []
        node.append({"name": f"f{i}", "type": "struct", "fields": child})
        node = child
    assert len(facets.schema_rows(fields)) <= 22
    assert len(facets.flatten(fields)) <= 22


def test_column_lineage_rows():
    facet = {"fields": {"a": {"inputFields": [
        {"namespace": "s3://b", "name": "t", "field": "x", "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]},
        {"namespace": "s3://b", "name": "u", "field": "y"}]}}}
    rows = facets.column_lineage(facet)
    assert [(r.field, r.namespace, r.name, r.input_field, r.transformations) for r in rows] == [
        ("a", "s3://b", "t", "x", "DIRECT/IDENTITY"), ("a", "s3://b", "u", "y", "")]


@pytest.mark.parametrize(("value", "link"), [
    ("https://github.com/a/b", "https://github.com/a/b"), ("HTTP://x.test/", "HTTP://x.test/"),
    ("javascript:alert(1)", ""), (" javascript:alert(1)", ""), ("data:text/html,<script>", ""), ("//evil.test", ""),
    (None, ""), (42, ""),
])
def test_only_http_urls_become_links(value, link):
    assert facets.http_url(value) == link


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("a=b", "a=b"), (3, "3"), (None, ""),
    (datetime(2026, 11, 1, tzinfo=UTC), "2026-11-01T00:00:00+00:00"),
])
def test_csv_cells_that_start_a_formula_are_neutralized(value, cell):
    assert csv_cell(value) == cell


@pytest.mark.parametrize("bad", ["", "asset", "asset:", "asset:-1", "asset:1.5", "run:1", "asset:1:2", "ASSET:1"])
def test_node_refs_are_parsed_strictly(bad):
    with pytest.raises(ValueError):
        graph.parse_node(bad)
    assert graph.parse_node("workload:12") == ("workload", 12)
