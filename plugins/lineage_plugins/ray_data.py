"""Ray Data lineage through Ray Data's execution callbacks.

Enable it with the environment only::

    RAY_DATA_EXECUTION_CALLBACKS=lineage_plugins.ray_data.LineageExecutionCallback

Ray instantiates one callback per Dataset execution (``schema()`` where it
executes, ``take``, ``count``, ``iter_batches``, ``materialize``,
``write_*`` ...). Before execution starts we read the executor's topology:
every physical operator knows the logical operators it was planned from, and
those carry the user's paths and the datasource or datasink (``Read``,
``ListFiles`` + ``ReadFiles`` for Ray's V2 Parquet reader, ``Write``). We emit
START then, and COMPLETE (or FAIL) with the same runId once the execution has
finished, adding the schemas Ray learned while executing.

This uses Ray Data internals (``ray.data._internal``): the tested range is
pinned (see ``lineage_plugins.RAY_TESTED_RANGE``); at load we check the
version and the internals we need, and degrade to a warning (no lineage, no
error) when they are missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

from lineage_plugins import RAY_TESTED_RANGE, config
from lineage_plugins.config import log, tracking_active
from lineage_plugins.emitter import STATS, guard

_RANGE_TEXT = ">={}.{},<{}.{}".format(*RAY_TESTED_RANGE[0], *RAY_TESTED_RANGE[1])

_compat_reason: str | None = None
try:
    import ray
except Exception:  # noqa: BLE001
    ray = None  # type: ignore[assignment]
try:
    from ray.data._internal.execution.execution_callback import (
        ExecutionCallback as _CallbackBase,
    )
except Exception as exc:  # noqa: BLE001
    _CallbackBase = object  # type: ignore[misc,assignment]
    _compat_reason = f"cannot import Ray Data's ExecutionCallback ({type(exc).__name__}: {exc})"

_Read = _ReadFiles = _ListFiles = _Write = _PreservesSchema = None
if _compat_reason is None:
    try:
        from ray.data._internal.execution.interfaces.physical_operator import PhysicalOperator
        from ray.data._internal.logical.interfaces import LogicalOperatorPreservesSchema
        from ray.data._internal.logical.operators.read_operator import ListFiles, Read, ReadFiles
        from ray.data._internal.logical.operators.write_operator import Write

        _Read, _ReadFiles, _ListFiles, _Write = Read, ReadFiles, ListFiles, Write
        _PreservesSchema = LogicalOperatorPreservesSchema
        if not hasattr(PhysicalOperator, "set_logical_operators"):
            _compat_reason = "PhysicalOperator.set_logical_operators is gone"
    except Exception as exc:  # noqa: BLE001
        _compat_reason = f"Ray Data internals moved ({type(exc).__name__}: {exc})"

RAY_VERSION = getattr(ray, "__version__", "unknown") if ray is not None else "unknown"
_warned_lock = threading.Lock()
_warned: set[str] = set()


def _warn_once(key: str, msg: str, *args: Any) -> None:
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(msg, *args)


def compatible() -> bool:
    """Whether this Ray exposes what the callback needs (warns once if not)."""
    if _compat_reason is not None:
        _warn_once(
            "incompatible",
            "lineage: Ray %s is not supported by lineage-plugins (tested %s): %s. "
            "Ray Data lineage is disabled; the workload is not affected.",
            RAY_VERSION,
            _RANGE_TEXT,
            _compat_reason,
        )
        return False
    if not config.in_range(RAY_VERSION, RAY_TESTED_RANGE):
        _warn_once(
            "untested",
            "lineage: Ray %s is outside the tested range %s of lineage-plugins; "
            "Ray Data lineage is attempted but may be incomplete.",
            RAY_VERSION,
            _RANGE_TEXT,
        )
    return True


# Datasource/datasink class name stem -> storage.fileFormat
_FORMATS = {
    "parquet": "parquet",
    "csv": "csv",
    "json": "json",
    "arrowjson": "json",
    "pandasjson": "json",
    "text": "text",
    "image": "image",
    "binary": "binary",
    "audio": "audio",
    "video": "video",
    "avro": "avro",
    "tfrecord": "tfrecords",
    "tfrecords": "tfrecords",
    "webdataset": "webdataset",
    "numpy": "numpy",
    "orc": "orc",
}


def format_of(obj_or_name: Any) -> str | None:
    name = obj_or_name if isinstance(obj_or_name, str) else type(obj_or_name).__name__
    stem = name.lower()
    for suffix in ("datasourcev2", "datasource", "datasink", "v2"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if stem.startswith("readfiles"):
        stem = stem[len("readfiles") :]
    if stem.endswith("v2"):
        stem = stem[:-2]
    return _FORMATS.get(stem)


def _fs_type(fs: Any) -> str | None:
    if fs is None:
        return None
    with contextlib.suppress(Exception):
        unwrap = getattr(fs, "unwrap", None)
        if callable(unwrap):
            fs = unwrap()
    return getattr(fs, "type_name", None)


def _as_list(paths: Any) -> list[str]:
    if paths is None:
        return []
    if isinstance(paths, (str, bytes)):
        paths = [paths]
    out = []
    for p in paths:
        if isinstance(p, bytes):
            p = p.decode()
        out.append(str(p))
    return out


# --------------------------------------------------------------------------
# Schema conversion


def schema_fields(schema: Any) -> list[dict[str, Any]] | None:
    """OpenLineage schema fields from a pyarrow schema (or Ray's wrappers)."""
    if schema is None:
        return None
    with contextlib.suppress(Exception):
        import pyarrow as pa

        base = getattr(schema, "base_schema", None)
        if base is not None:
            schema = base
        if isinstance(schema, pa.Schema):
            return [_arrow_field(f) for f in schema]
    names = getattr(schema, "names", None)
    types = getattr(schema, "types", None)
    if names is None or types is None:
        return None
    return [{"name": str(n), "type": _type_str(t)} for n, t in zip(names, types, strict=False)]


def _type_str(t: Any) -> str:
    return str(getattr(t, "__name__", None) or t)


def _arrow_field(field: Any) -> dict[str, Any]:
    import pyarrow as pa

    out: dict[str, Any] = {"name": field.name, "type": str(field.type)}
    t = field.type
    if pa.types.is_struct(t):
        out["fields"] = [_arrow_field(t.field(i)) for i in range(t.num_fields)]
    elif (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type):
        vt = t.value_type
        out["fields"] = [_arrow_field(vt.field(i)) for i in range(vt.num_fields)]
    return out


def _schema_facet(fields: list[dict[str, Any]] | None) -> Any | None:
    if not fields:
        return None
    from openlineage.client.facet_v2 import schema_dataset

    from lineage_plugins import PRODUCER

    def conv(f: dict[str, Any]) -> Any:
        return schema_dataset.SchemaDatasetFacetFields(
            name=f["name"],
            type=f.get("type"),
            fields=[conv(x) for x in f.get("fields", [])] or None,
        )

    return schema_dataset.SchemaDatasetFacet(fields=[conv(f) for f in fields], producer=PRODUCER)


# --------------------------------------------------------------------------
# Reading the plan


class _Side:
    """Datasets found on one logical operator (a read or a write)."""

    def __init__(self, logical: Any, kind: str, fmt: str | None, paths: list[str], fs: str | None):
        self.logical = logical
        self.kind = kind  # "input" | "output"
        self.format = fmt
        self.paths = paths
        self.fs_type = fs
        self.schema: list[dict[str, Any]] | None = None
        self.overwrite = False
        self.skipped = False
        self.list_only = False
        # precomputed (namespace, name) pairs, for inputs carried over from
        # the execution that materialized the blocks this execution reads
        self.identities: list[tuple[str, str]] | None = None


def _physical_ops(executor: Any) -> list[Any]:
    topology = getattr(executor, "_topology", None)
    if not topology:
        return []
    return list(topology.keys())


def _logical_ops(executor: Any) -> list[Any]:
    seen: dict[int, Any] = {}
    for op in _physical_ops(executor):
        for lo in getattr(op, "_logical_operators", []) or []:
            seen.setdefault(id(lo), lo)
    return list(seen.values())


def _read_side(lo: Any) -> _Side | None:
    if _ReadFiles is not None and isinstance(lo, _ReadFiles):
        deps = getattr(lo, "input_dependencies", None) or []
        lf = deps[0] if deps else None
        paths = _as_list(getattr(lf, "source_paths", None) or getattr(lf, "paths", None))
        side = _Side(lo, "input", format_of(getattr(lo, "datasource_name", "")), paths,
                     _fs_type(getattr(lf, "filesystem", None)))
        with contextlib.suppress(Exception):
            side.schema = schema_fields(getattr(lo, "schema", None))
        return side
    if _Read is not None and isinstance(lo, _Read):
        ds = getattr(lo, "datasource", None)
        paths: list[str] = []
        with contextlib.suppress(Exception):
            paths = _as_list(getattr(ds, "_source_paths", None))
        if not paths:
            return None  # not a file-based datasource
        return _Side(lo, "input", format_of(ds), paths, _fs_type(getattr(ds, "_filesystem", None)))
    return None


def _list_only_side(lo: Any, all_logical: list[Any]) -> _Side | None:
    """A ListFiles with no ReadFiles in this execution (e.g. count() on Parquet).

    The files are still read (their footers are), so the directory is an input.
    """
    if _ListFiles is None or not isinstance(lo, _ListFiles):
        return None
    for other in all_logical:
        if _ReadFiles is not None and isinstance(other, _ReadFiles):
            deps = getattr(other, "input_dependencies", None) or []
            if deps and deps[0] is lo:
                return None
    paths = _as_list(getattr(lo, "source_paths", None) or getattr(lo, "paths", None))
    indexer = type(getattr(lo, "file_indexer", None)).__name__.lower()
    fmt = "parquet" if ("footer" in indexer or "parquet" in indexer) else None
    if fmt is None:
        exts = getattr(lo, "file_extensions", None) or []
        fmt = format_of(exts[0]) if exts else None
    side = _Side(lo, "input", fmt, paths, _fs_type(getattr(lo, "filesystem", None)))
    side.list_only = True  # its output is a file manifest, not the data's schema
    return side


def _write_side(lo: Any) -> _Side | None:
    if _Write is None or not isinstance(lo, _Write):
        return None
    sink = getattr(lo, "datasink_or_legacy_datasource", None)
    path = getattr(sink, "unresolved_path", None) or getattr(sink, "path", None)
    if not path:
        return None  # not a file-based datasink
    side = _Side(lo, "output", format_of(sink), _as_list(path), _fs_type(getattr(sink, "filesystem", None)))
    mode = getattr(sink, "mode", None)
    side.overwrite = str(getattr(mode, "value", mode)).lower() == "overwrite"
    return side


def _job_name(logical: list[Any], sides: list[_Side]) -> str:
    by_id = {id(s.logical): s for s in sides if s.identities is None}
    parts = []
    for lo in logical:
        if _ListFiles is not None and isinstance(lo, _ListFiles) and id(lo) not in by_id:
            continue
        side = by_id.get(id(lo))
        if side is not None:
            verb = "read" if side.kind == "input" else "write"
            parts.append(f"{verb}_{side.format or 'files'}")
        else:
            parts.append(str(getattr(lo, "name", type(lo).__name__)))
    name = "ray.data:" + "->".join(parts)
    if len(name) > 250:
        digest = hashlib.sha1(name.encode()).hexdigest()[:12]
        name = name[:236] + "..." + digest
    return name


# --------------------------------------------------------------------------
# Schemas learned during execution


def _physicals_ending_with(executor: Any, lo: Any) -> list[Any]:
    """Physical operators whose output is the output of logical operator ``lo``."""
    out = []
    for op in _physical_ops(executor):
        los = getattr(op, "_logical_operators", None) or []
        if los and los[-1] is lo:
            out.append(op)
    return out


def _op_schema(executor: Any, op: Any) -> Any:
    state = executor._topology.get(op)
    return getattr(state, "_schema", None) if state is not None else None


def _schema_after(executor: Any, lo: Any, depth: int = 0) -> list[dict[str, Any]] | None:
    """Schema of the data produced by logical operator ``lo``, if Ray knows it."""
    if depth > 50:
        return None
    for op in _physicals_ending_with(executor, lo):
        fields = schema_fields(_op_schema(executor, op))
        if fields:
            return fields
    if _ReadFiles is not None and isinstance(lo, _ReadFiles):
        return schema_fields(getattr(lo, "schema", None))
    if _Read is not None and isinstance(lo, _Read):
        with contextlib.suppress(Exception):
            return schema_fields(lo.infer_schema())
        return None
    if _PreservesSchema is not None and isinstance(lo, _PreservesSchema):
        deps = getattr(lo, "input_dependencies", None) or []
        if len(deps) == 1:
            return _schema_after(executor, deps[0], depth + 1)
    return None


def _written_parquet_schema(sink: Any) -> list[dict[str, Any]] | None:
    """Last resort for a fused write: the footer of one file this write made."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    fs = getattr(sink, "filesystem", None)
    path = getattr(sink, "path", None)
    if fs is None or not path:
        return None
    with contextlib.suppress(Exception):
        fs = fs.unwrap()
    uuid_part = str(getattr(sink, "dataset_uuid", "") or "")
    recursive = bool(getattr(sink, "partition_cols", None))
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=recursive, allow_not_found=True))
    for info in infos:
        if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
            continue
        if uuid_part and uuid_part not in info.path.rsplit("/", 1)[-1]:
            continue
        with fs.open_input_file(info.path) as fh:
            return schema_fields(pq.read_schema(fh))
    return None


# --------------------------------------------------------------------------
# The callback


def _dataset(side: _Side, namespace: str, name: str) -> Any:
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import (
        datasource_dataset,
        lifecycle_state_change_dataset,
        storage_dataset,
    )

    from lineage_plugins import PRODUCER
    from lineage_plugins.naming import storage_layer, uri_for

    facets: dict[str, Any] = {
        "dataSource": datasource_dataset.DatasourceDatasetFacet(
            name=namespace, uri=uri_for(namespace, name), producer=PRODUCER
        ),
    }
    if side.format:
        facets["storage"] = storage_dataset.StorageDatasetFacet(
            storageLayer=storage_layer(namespace), fileFormat=side.format, producer=PRODUCER
        )
    sf = _schema_facet(side.schema)
    if sf is not None:
        facets["schema"] = sf
    if side.kind == "output":
        if side.overwrite:
            facets["lifecycleStateChange"] = lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(
                lifecycleStateChange=lifecycle_state_change_dataset.LifecycleStateChange.OVERWRITE,
                producer=PRODUCER,
            )
        return OutputDataset(namespace=namespace, name=name, facets=facets)
    return InputDataset(namespace=namespace, name=name, facets=facets)


class LineageExecutionCallback(_CallbackBase):  # type: ignore[misc,valid-type]
    """Emits one OpenLineage run (START, then COMPLETE/FAIL) per Dataset execution."""

    def __init__(self) -> None:
        self._active = tracking_active() and compatible()
        self._run_id: str | None = None
        self._sides: list[_Side] = []
        self._job_name = ""
        self._parent: tuple[str, str, str] | None = None
        self._done = False
        self._track_tasks = False
        self._task_ids: set[str] = set()

    # Ray's hooks ---------------------------------------------------------

    def before_execution_starts(self, executor: Any) -> None:
        if not self._active:
            return
        with guard("Ray Data lineage (execution start)"):
            self._collect(executor)
            if self._sides:
                self._emit("START", executor)

    def on_execution_step(self, executor: Any) -> None:
        # Remember which tasks produced this execution's blocks, so that a
        # later execution over materialized blocks can name these inputs.
        # Best effort and silent: this runs on every scheduling step.
        if not self._track_tasks:
            return
        started = time.perf_counter()
        try:
            for op in executor._topology:
                for task in op.get_active_tasks():
                    gen = getattr(task, "_streaming_gen", None)
                    ref = getattr(gen, "_generator_ref", None)
                    if ref is not None:
                        self._task_ids.add(ref.task_id().hex())
        except Exception as exc:  # noqa: BLE001
            self._track_tasks = False
            _warn_once("task-tracking", "lineage: cannot follow Ray Data blocks across "
                       "materialize() (%s: %s); lineage of later executions may miss inputs",
                       type(exc).__name__, exc)
        finally:
            STATS["seconds"] += time.perf_counter() - started

    def after_execution_succeeds(self, executor: Any) -> None:
        if not self._active or not self._sides or self._done:
            return
        self._done = True
        with guard("Ray Data lineage (execution end)"):
            self._learn_schemas(executor)
            self._emit("COMPLETE", executor)
            self._remember_block_origins()

    def after_execution_fails(self, executor: Any, error: Exception) -> None:
        if not self._active or not self._sides or self._done:
            return
        self._done = True
        with guard("Ray Data lineage (execution failure)"):
            self._learn_schemas(executor)
            self._emit("FAIL", executor, error=error)

    # internals -----------------------------------------------------------

    def _collect(self, executor: Any) -> None:
        from lineage_plugins.emitter import mlflow_active_parent, new_run_id

        logical = _logical_ops(executor)
        sides: list[_Side] = []
        for lo in logical:
            side = _read_side(lo) or _list_only_side(lo, logical) or _write_side(lo)
            if side is not None and side.paths:
                sides.append(side)
        sides.extend(_materialized_origins(logical))
        self._sides = sides
        self._track_tasks = any(side.kind == "input" for side in sides)
        if not sides:
            return
        self._run_id = new_run_id()
        self._job_name = _job_name(logical, sides)
        self._parent = mlflow_active_parent()
        log.debug("lineage: Ray Data execution %s -> job %s",
                  getattr(executor, "_dataset_id", "?"), self._job_name)

    def _learn_schemas(self, executor: Any) -> None:
        for side in self._sides:
            if side.kind == "input" and side.schema is None and not side.list_only:
                with contextlib.suppress(Exception):
                    side.schema = _schema_after(executor, side.logical)
            elif side.kind == "output":
                sink = getattr(side.logical, "datasink_or_legacy_datasource", None)
                side.skipped = bool(getattr(sink, "_skip_write", False))
                deps = getattr(side.logical, "input_dependencies", None) or []
                if deps:
                    with contextlib.suppress(Exception):
                        side.schema = _schema_after(executor, deps[0])
                if side.schema is None and side.format == "parquet" and not side.skipped:
                    try:
                        side.schema = _written_parquet_schema(sink)
                    except Exception as exc:  # noqa: BLE001
                        log.debug("lineage: could not read the written Parquet schema: %s", exc)

    def _remember_block_origins(self) -> None:
        inputs = [s for s in self._sides if s.kind == "input" and not s.skipped]
        if not self._task_ids or not inputs:
            return
        from lineage_plugins.naming import collapse_identities, dataset_identity

        snapshot = []
        for side in inputs:
            ids = side.identities
            if ids is None:
                ids = collapse_identities([dataset_identity(p, side.fs_type) for p in side.paths])
            snapshot.append((side.format, side.schema, tuple(ids)))
        with _origins_lock:
            for tid in self._task_ids:
                _BLOCK_ORIGINS[tid] = snapshot
                _BLOCK_ORIGINS.move_to_end(tid)
            while len(_BLOCK_ORIGINS) > _MAX_ORIGINS:
                _BLOCK_ORIGINS.popitem(last=False)

    def _datasets(self) -> tuple[list[Any], list[Any]]:
        from lineage_plugins.naming import collapse_identities, dataset_identity

        inputs: list[Any] = []
        outputs: list[Any] = []
        for side in self._sides:
            if side.skipped:
                continue
            if side.identities is not None:
                ids = side.identities
            else:
                ids = collapse_identities([dataset_identity(p, side.fs_type) for p in side.paths])
            for ns, name in ids:
                ds = _dataset(side, ns, name)
                (inputs if side.kind == "input" else outputs).append(ds)
        return _dedupe(inputs), _dedupe(outputs)

    def _emit(self, event_type: str, executor: Any, error: BaseException | None = None) -> None:
        from lineage_plugins.emitter import emit, job_facets, run_event, run_facets

        inputs, outputs = self._datasets()
        event = run_event(
            event_type,
            self._run_id or "",
            self._job_name,
            run_facets("ray", RAY_VERSION, parent=self._parent, error=error),
            job_facets("RAY", "RAY_DATA"),
            inputs,
            outputs,
        )
        emit(event)


# task id (hex) -> [(format, schema, identities)] of the inputs of the
# execution whose task produced blocks; bounded, oldest dropped first.
_BLOCK_ORIGINS: "OrderedDict[str, list]" = OrderedDict()
_MAX_ORIGINS = 20000
_origins_lock = threading.Lock()


def _materialized_origins(logical: list[Any]) -> list[_Side]:
    """Inputs behind ``InputData`` sources (materialized datasets).

    ``ds.materialize()`` executes and keeps the output blocks; executions over
    the materialized dataset start from an ``InputData`` operator holding those
    block refs. Each block ref names the Ray task that produced it, and we
    recorded which execution (and so which files) those tasks belonged to.
    Works when the materialized plan ends in map-style operators (read, map,
    filter ...); blocks made by shuffles/repartition/limit are not followed.
    """
    out: list[_Side] = []
    seen: set[tuple] = set()
    for lo in logical:
        if type(lo).__name__ != "InputData":
            continue
        for bundle in getattr(lo, "input_data", None) or []:
            for ref in getattr(bundle, "block_refs", None) or []:
                try:
                    tid = ref.task_id().hex()
                except Exception:  # noqa: BLE001
                    continue
                with _origins_lock:
                    snapshot = _BLOCK_ORIGINS.get(tid)
                for fmt, schema, ids in snapshot or []:
                    key = (fmt, ids)
                    if key in seen:
                        continue
                    seen.add(key)
                    side = _Side(lo, "input", fmt, ["<materialized>"], None)
                    side.identities = list(ids)
                    side.schema = schema
                    side.list_only = True  # the schema is the original one; do not relearn
                    out.append(side)
    return out


def _dedupe(datasets: list[Any]) -> list[Any]:
    seen: dict[tuple[str, str], Any] = {}
    for ds in datasets:
        seen.setdefault((ds.namespace, ds.name), ds)
    return list(seen.values())


if tracking_active():
    # Report an incompatible Ray at load (when Ray imports this module to
    # register the callback), not only at the first execution.
    compatible()
