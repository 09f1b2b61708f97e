"""Reading facets for people: schema rows and how a schema changed, column lineage, MLflow model facts,
code locations. Framework-free (no models), tested as plain functions.

Facets come from events, so from anyone holding an ingest key: every reader here checks shapes
instead of trusting them, and a URL is only offered as a link when it is http(s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SchemaRow:
    depth: int
    name: str
    type: str
    description: str


def _fields(value: Any) -> list[dict]:
    return [f for f in value if isinstance(f, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def schema_rows(fields: Any, depth: int = 0, limit: int = 2_000) -> list[SchemaRow]:
    """Fields (and nested fields, indented by depth) in the order the schema lists them."""
    rows: list[SchemaRow] = []

    def visit(items: Any, level: int) -> None:
        for f in _fields(items):
            if len(rows) >= limit or level > 20:
                return
            rows.append(SchemaRow(level, _text(f.get("name")), _text(f.get("type")), _text(f.get("description"))))
            visit(f.get("fields"), level + 1)

    visit(fields, depth)
    return rows


def flatten(fields: Any, prefix: str = "", level: int = 0) -> dict[str, str]:
    """{"bbox.x": "float", ...}: every field by its dotted path."""
    out: dict[str, str] = {}
    if level > 20:
        return out
    for f in _fields(fields):
        path = f"{prefix}{_text(f.get('name'))}"
        out[path] = _text(f.get("type"))
        out.update(flatten(f.get("fields"), path + ".", level + 1))
    return out


@dataclass(frozen=True)
class SchemaChange:
    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    retyped: list[tuple[str, str, str]]  # path, old type, new type

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.retyped)


def schema_change(old: Any, new: Any) -> SchemaChange:
    before, after = flatten(old), flatten(new)
    return SchemaChange(
        added=[(p, t) for p, t in after.items() if p not in before],
        removed=[(p, t) for p, t in before.items() if p not in after],
        retyped=[(p, before[p], t) for p, t in after.items() if p in before and before[p] != t],
    )


@dataclass(frozen=True)
class ColumnSource:
    field: str  # output column
    namespace: str
    name: str
    input_field: str
    transformations: str


def column_lineage(facet: Any, limit: int = 500) -> list[ColumnSource]:
    """Rows of a columnLineage facet: output column <- input dataset's column (and how)."""
    rows: list[ColumnSource] = []
    fields = facet.get("fields") if isinstance(facet, dict) else None
    if not isinstance(fields, dict):
        return rows
    for out_field, spec in fields.items():
        inputs = spec.get("inputFields") if isinstance(spec, dict) else None
        for item in _fields(inputs):
            kinds = [
                "/".join(x for x in (_text(t.get("type")), _text(t.get("subtype"))) if x)
                for t in _fields(item.get("transformations"))
            ]
            rows.append(ColumnSource(_text(out_field), _text(item.get("namespace")), _text(item.get("name")),
                                     _text(item.get("field")), ", ".join(k for k in kinds if k)))
            if len(rows) >= limit:
                return rows
    return rows


MLFLOW_LABELS = (
    ("modelId", "Model ID"), ("flavor", "Flavor"), ("registeredName", "Registered name"),
    ("registeredVersion", "Registered version"), ("modelUri", "Model URI"), ("runId", "MLflow run"),
    ("experimentId", "Experiment"), ("artifactPath", "Artifact path"),
)


def mlflow_summary(facet: Any) -> list[tuple[str, str]]:
    if not isinstance(facet, dict):
        return []
    return [(label, _text(facet[key])) for key, label in MLFLOW_LABELS if facet.get(key) not in (None, "")]


def http_url(value: Any) -> str:
    """The value if it is an http(s) URL (safe to put in href), else ''."""
    text = _text(value).strip()
    return text if text.lower().startswith(("https://", "http://")) else ""


def symlinks(facet: Any) -> list[tuple[str, str, str]]:
    if not isinstance(facet, dict):
        return []
    return [(_text(i.get("namespace")), _text(i.get("name")), _text(i.get("type")))
            for i in _fields(facet.get("identifiers"))]


def flat_pairs(facet: Any) -> list[tuple[str, str]]:
    """Top-level scalar entries of a facet (its `_producer`/`_schemaURL` bookkeeping left out)."""
    if not isinstance(facet, dict):
        return []
    return [(k, _text(v)) for k, v in facet.items()
            if not k.startswith("_") and isinstance(v, str | int | float | bool)]
