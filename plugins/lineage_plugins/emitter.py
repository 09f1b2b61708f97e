"""Building and sending events through the official OpenLineage client.

One ``OpenLineageClient()`` per process, created on first use and configured
entirely from the environment (``OPENLINEAGE_URL``, ``OPENLINEAGE_API_KEY``,
``OPENLINEAGE_CONFIG``, ``OPENLINEAGE__TRANSPORT__*``, ``OPENLINEAGE_DISABLED``
...), exactly as the client documents. Events are sent synchronously, in the
thread of the operation that produced them.

Error policy (``LINEAGE_IGNORE_ERRORS``): every plugin entry point runs its
lineage work inside :func:`guard`. With the default (true) any exception,
from a bug in the plugin or from the transport (server down, 4xx, 5xx), is
logged as a warning and swallowed, so the workload carries on; with ``false``
it is raised as :class:`LineageError` (chained to the cause).
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from typing import Any, Iterator

from lineage_plugins import PRODUCER, __version__
from lineage_plugins.config import SETTINGS, log

_client_lock = threading.Lock()
_client: Any = None


class LineageError(RuntimeError):
    """Raised by a plugin when LINEAGE_IGNORE_ERRORS=false and lineage failed."""


# Time spent doing lineage work in this process (all hooks, building and
# sending events). Read by bench_overhead.py; cheap enough to keep always on.
STATS = {"calls": 0, "seconds": 0.0}


@contextlib.contextmanager
def guard(what: str) -> Iterator[None]:
    """Run lineage work; never let it break the workload unless asked to."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - that is the point
        if SETTINGS.ignore_errors:
            log.warning(
                "lineage: %s failed, the workload continues (LINEAGE_IGNORE_ERRORS=true): %s: %s",
                what,
                type(exc).__name__,
                exc,
            )
            log.debug("lineage: %s traceback", what, exc_info=True)
            return
        raise LineageError(f"lineage: {what} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        STATS["calls"] += 1
        STATS["seconds"] += time.perf_counter() - started


def get_client() -> Any:
    global _client  # noqa: PLW0603
    if _client is None:
        with _client_lock:
            if _client is None:
                from openlineage.client import OpenLineageClient

                from lineage_plugins.facets import set_transport_base_url

                client = OpenLineageClient()
                set_transport_base_url(getattr(client.transport, "url", None))
                _client = client
    return _client


def emit(event: Any) -> None:
    client = get_client()
    if log.isEnabledFor(logging.DEBUG):
        from openlineage.client.serde import Serde

        log.debug("lineage: emitting %s", Serde.to_json(event))
    client.emit(event)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def new_run_id() -> str:
    from openlineage.client.uuid import generate_new_uuid

    return str(generate_new_uuid())


# --------------------------------------------------------------------------
# Workload facet


def _os_version() -> str:
    pretty = None
    with contextlib.suppress(OSError):
        with open("/etc/os-release", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    pretty = line.split("=", 1)[1].strip().strip('"')
                    break
    kernel = f"{platform.system()} {platform.release()}".strip()
    return f"{pretty} ({kernel})" if pretty else kernel


def _ray_version() -> str | None:
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "__version__", None):
        return ray.__version__
    if "ray_dist" not in _STATIC:  # installed but not imported: read once (slow-ish)
        try:
            from importlib.metadata import version

            _STATIC["ray_dist"] = version("ray")
        except Exception:  # noqa: BLE001
            _STATIC["ray_dist"] = None
    return _STATIC["ray_dist"]


_STATIC: dict[str, Any] = {}
_resources_cache: tuple[float, dict[str, Any] | None] = (0.0, None)
_RESOURCES_TTL_S = 60.0


def _local_resources() -> dict[str, Any]:
    res: dict[str, Any] = {"nodes": 1}
    cpus = os.cpu_count()
    if cpus:
        res["cpus"] = cpus
    with contextlib.suppress(ValueError, OSError, AttributeError):
        res["memoryBytes"] = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return res


def _ray_resources() -> dict[str, Any] | None:
    """Cluster resources when this process is a connected Ray driver.

    Only looked at when Ray is already imported and initialized: the plugins
    never import or start Ray themselves.
    """
    ray = sys.modules.get("ray")
    if ray is None or not getattr(ray, "is_initialized", lambda: False)():
        return None
    total = ray.cluster_resources()
    res: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        res["nodes"] = sum(1 for n in ray.nodes() if n.get("Alive"))
    if "CPU" in total:
        res["cpus"] = float(total["CPU"])
    if "GPU" in total:
        res["gpus"] = float(total["GPU"])
    gpu_types = sorted(
        k.split(":", 1)[1] for k in total if k.startswith("accelerator_type:")
    )
    if gpu_types:
        res["gpuType"] = ",".join(gpu_types)
    if "memory" in total:
        res["memoryBytes"] = int(total["memory"])
    return res


def resources() -> dict[str, Any] | None:
    global _resources_cache  # noqa: PLW0603
    ts, cached = _resources_cache
    if cached is not None and time.monotonic() - ts < _RESOURCES_TTL_S:
        return cached
    res = None
    with contextlib.suppress(Exception):
        res = _ray_resources()
    if res is None:
        res = _local_resources()
    _resources_cache = (time.monotonic(), res)
    return res


def _valid_rfc3339(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in value.upper()


def workload_facet() -> Any | None:
    """The custom ``workload`` run facet, or None without a workload id."""
    from lineage_plugins.facets import WorkloadRunFacet

    wl = dict(SETTINGS.workload)
    if "id" not in wl:
        return None
    wtype = wl.get("type", "job").lower()
    if wtype not in ("job", "service", "workspace"):
        if "bad_type" not in _STATIC:
            _STATIC["bad_type"] = True
            log.warning(
                "lineage: LINEAGE_WORKLOAD_TYPE=%r is not job|service|workspace; sending 'job'",
                wl.get("type"),
            )
        wtype = "job"
    wl["type"] = wtype
    started = wl.get("clusterStartedAt")
    if started and not _valid_rfc3339(started):
        if "bad_started" not in _STATIC:
            _STATIC["bad_started"] = True
            log.warning(
                "lineage: LINEAGE_CLUSTER_STARTED_AT=%r is not RFC 3339; left out", started
            )
        wl.pop("clusterStartedAt")
    if "os" not in _STATIC:
        _STATIC["os"] = _os_version()
        _STATIC["python"] = platform.python_version()
    return WorkloadRunFacet(
        producer=PRODUCER,
        rayVersion=_ray_version(),
        pythonVersion=_STATIC["python"],
        osVersion=_STATIC["os"],
        resources=resources(),
        **wl,
    )


def workload_parent() -> tuple[str, str, str] | None:
    """(namespace, job name, run id) of the workload run, when known.

    The run id is stable for one workload on one cluster, so every event of
    the workload on that cluster hangs below the same parent run.
    """
    wl = SETTINGS.workload
    if "id" not in wl:
        return None
    key = f"lineage-workload:{wl['id']}:{wl.get('clusterId', '')}:{wl.get('clusterStartedAt', '')}"
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
    return SETTINGS.job_namespace, wl.get("name") or wl["id"], run_id


def mlflow_parent(run_id: str | None, experiment_id: str | None) -> tuple[str, str, str] | None:
    """The MLflow run as an OpenLineage parent run.

    MLflow run ids are 32 hex digits, i.e. UUIDs, so the MLflow run id *is* the
    parent runId; the parent job is the experiment.
    """
    if not run_id:
        return None
    try:
        parent_run_id = str(uuid.UUID(hex=run_id))
    except ValueError:
        parent_run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mlflow-run:{run_id}"))
    return SETTINGS.job_namespace, f"mlflow/experiments/{experiment_id or 'unknown'}", parent_run_id


def mlflow_active_parent() -> tuple[str, str, str] | None:
    """The active MLflow run of this thread, if MLflow is in use (never imports it)."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return None
    try:
        active = mlflow.active_run()
    except Exception:  # noqa: BLE001
        return None
    if active is None:
        return None
    return mlflow_parent(active.info.run_id, active.info.experiment_id)


# --------------------------------------------------------------------------
# Common event pieces


def parent_facet(
    parent: tuple[str, str, str] | None, root: tuple[str, str, str] | None = None
) -> Any | None:
    if parent is None:
        return None
    from openlineage.client.facet_v2 import parent_run

    kwargs: dict[str, Any] = {}
    if root is not None and root != parent:
        kwargs["root"] = parent_run.Root(
            run=parent_run.RootRun(runId=root[2]),
            job=parent_run.RootJob(namespace=root[0], name=root[1]),
        )
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent[2]),
        job=parent_run.Job(namespace=parent[0], name=parent[1]),
        producer=PRODUCER,
        **kwargs,
    )


def run_facets(
    engine: str,
    engine_version: str | None,
    parent: tuple[str, str, str] | None = None,
    error: BaseException | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from openlineage.client.facet_v2 import error_message_run, processing_engine_run

    facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=engine_version or "unknown",
            name=engine,
            openlineageAdapterVersion=__version__,
            producer=PRODUCER,
        )
    }
    wf = workload_facet()
    if wf is not None:
        facets["workload"] = wf
    root = workload_parent()
    if parent is not None:
        pf = parent_facet(parent, root)
    else:
        pf = parent_facet(root)
    if pf is not None:
        facets["parent"] = pf
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"{type(error).__name__}: {error}"[:4000],
            programmingLanguage="PYTHON",
            stackTrace="".join(traceback.format_exception(error))[-8000:],
            producer=PRODUCER,
        )
    if extra:
        facets.update(extra)
    return facets


def job_facets(integration: str, job_type: str) -> dict[str, Any]:
    from openlineage.client.facet_v2 import job_type_job

    return {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH",
            integration=integration,
            jobType=job_type,
            producer=PRODUCER,
        )
    }


def run_event(
    event_type: str,
    run_id: str,
    job_name: str,
    run_facets_: dict[str, Any],
    job_facets_: dict[str, Any],
    inputs: list[Any],
    outputs: list[Any],
) -> Any:
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

    return RunEvent(
        eventType=RunState(event_type),
        eventTime=now_iso(),
        run=Run(runId=run_id, facets=run_facets_),
        job=Job(namespace=SETTINGS.job_namespace, name=job_name, facets=job_facets_),
        inputs=inputs,
        outputs=outputs,
        producer=PRODUCER,
    )
