"""Settings read from the environment when a plugin loads.

``LINEAGE_*`` variables are read once, at import of this module (that is, when
the first plugin loads in a process). The OpenLineage client reads its own
``OPENLINEAGE_*`` settings when it is created (lazily, before the first event).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field

LOGGER_NAME = "lineage_plugins"
log = logging.getLogger(LOGGER_NAME)

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}

# Workload identity variables (set by the platform) -> workload facet field.
WORKLOAD_ENV = {
    "LINEAGE_WORKLOAD_TYPE": "type",
    "LINEAGE_WORKLOAD_ID": "id",
    "LINEAGE_WORKLOAD_NAME": "name",
    "LINEAGE_PROJECT_ID": "projectId",
    "LINEAGE_CLOUD_ID": "cloudId",
    "LINEAGE_ORGANIZATION_ID": "organizationId",
    "LINEAGE_OWNER_EMAIL": "ownerEmail",
    "LINEAGE_CLUSTER_ID": "clusterId",
    "LINEAGE_CLUSTER_STARTED_AT": "clusterStartedAt",
    "LINEAGE_WORKLOAD_STATUS": "status",
    "LINEAGE_IMAGE": "image",
}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    log.warning("lineage: %s=%r is not a boolean; using the default %s", name, raw, default)
    return default


@dataclass(frozen=True)
class Settings:
    enabled: bool
    ignore_errors: bool
    log_level: str | None
    workload: dict = field(default_factory=dict)
    job_namespace: str = "default"
    in_mlflow_server: bool = False


def _setup_logging(level_name: str | None) -> None:
    if not level_name:
        return
    level = logging.getLevelName(level_name.strip().upper())
    if not isinstance(level, int):
        log.warning("lineage: LINEAGE_LOG_LEVEL=%r is not a log level; ignored", level_name)
        return
    log.setLevel(level)
    # Make the plugins' own messages visible even when the workload configured
    # no logging at all (the usual case in a script): one stderr handler on our
    # logger only, never on the root logger.
    if not any(getattr(h, "_lineage_plugins", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._lineage_plugins = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.propagate = False


def load_settings() -> Settings:
    log_level = os.environ.get("LINEAGE_LOG_LEVEL")
    _setup_logging(log_level)
    workload = {
        key: os.environ[var].strip()
        for var, key in WORKLOAD_ENV.items()
        if os.environ.get(var, "").strip()
    }
    namespace = (
        workload.get("id")
        or os.environ.get("OPENLINEAGE_NAMESPACE", "").strip()
        or "default"
    )
    # Inside an ``mlflow server`` process the plugin (if installed there) must
    # stay silent: lineage belongs to the client workload, which has its own
    # copy of the plugin. ``mlflow server`` exports these to its workers.
    in_server = bool(
        os.environ.get("_MLFLOW_SERVER_FILE_STORE")
        or os.environ.get("_MLFLOW_SERVER_ARTIFACT_ROOT")
        or os.environ.get("_MLFLOW_SERVER_SERVE_ARTIFACTS")
        or os.environ.get("_MLFLOW_SERVER_ARTIFACT_DESTINATION")
    )
    return Settings(
        enabled=env_bool("LINEAGE_TRACKING_ENABLED", True),
        ignore_errors=env_bool("LINEAGE_IGNORE_ERRORS", True),
        log_level=log_level,
        workload=workload,
        job_namespace=namespace,
        in_mlflow_server=in_server,
    )


SETTINGS = load_settings()


def tracking_active() -> bool:
    """True when plugins should set themselves up and emit."""
    return SETTINGS.enabled and not SETTINGS.in_mlflow_server


def version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = ""
        for ch in piece:
            if ch.isdigit():
                digits += ch
            else:
                break
        if digits == "":
            break
        parts.append(int(digits))
    return tuple(parts)


def in_range(version: str, rng: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    v = version_tuple(version)[:2]
    return rng[0] <= v < rng[1]
