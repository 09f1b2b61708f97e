"""Dataset identity (namespace, name) per the OpenLineage naming conventions.

* local files: namespace ``file``, name = absolute, normalized path
  (``/mnt/cluster_storage/data/x.parquet``); the server rewrites tracked roots
  (``/mnt/cluster_storage``, ``/mnt/shared_storage``) itself.
* S3: namespace ``s3://<bucket>``, name = object key (``a/b/c.parquet``); ``s3a``
  and ``s3n`` are folded into ``s3``.
* GCS: namespace ``gs://<bucket>``, name = object key.
* Azure: namespace ``abfss://<container>@<account>.dfs.core.windows.net`` (or
  ``wasbs://<container>@<account>.blob.core.windows.net``), name = path.
* HDFS: namespace ``hdfs://<host>:<port>``, name = path.
* anything else with a scheme: namespace ``<scheme>://<authority>``, name = path.

A directory is named like a file (no trailing slash): the directory is the
dataset, not each file in it.
"""

from __future__ import annotations

import os
import posixpath
from urllib.parse import unquote, urlsplit

LOCAL_NAMESPACE = "file"

_SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3", "gcs": "gs", "abfs": "abfss", "wasb": "wasbs"}

# pyarrow filesystem type_name -> scheme, for paths Ray resolved without scheme.
_FS_TYPE_SCHEME = {"s3": "s3", "gcs": "gs", "hdfs": "hdfs", "abfs": "abfss"}


def _strip_key(path: str) -> str:
    key = path.strip("/")
    return key or "/"


def _local(path: str) -> tuple[str, str]:
    path = os.path.expanduser(unquote(path))
    return LOCAL_NAMESPACE, posixpath.normpath(os.path.abspath(path))


def dataset_identity(uri: str, filesystem_type: str | None = None) -> tuple[str, str]:
    """Return ``(namespace, name)`` for a path or URI.

    ``filesystem_type`` is the pyarrow filesystem ``type_name`` when the caller
    knows the path was given without a scheme to a non-local filesystem (Ray
    accepts ``bucket/key`` together with an ``S3FileSystem``).
    """
    uri = uri.strip()
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    # Windows drive letters ("C:\\...") parse as a one-letter scheme.
    if len(scheme) == 1:
        scheme = ""
    if not scheme:
        fs_scheme = _FS_TYPE_SCHEME.get((filesystem_type or "").lower())
        if fs_scheme:
            bucket, _, key = uri.lstrip("/").partition("/")
            if fs_scheme == "hdfs":
                return "hdfs://", posixpath.normpath("/" + uri.lstrip("/"))
            return f"{fs_scheme}://{bucket}", _strip_key(key)
        return _local(uri)
    scheme = _SCHEME_ALIASES.get(scheme, scheme)
    if scheme in ("file", "local"):
        # file:///abs/path, file://host/abs/path, local:///abs/path (Ray)
        return _local(parts.path if parts.path else parts.netloc)
    path = unquote(parts.path)
    if scheme in ("s3", "gs"):
        return f"{scheme}://{parts.netloc}", _strip_key(path)
    if scheme in ("abfss", "wasbs"):
        return f"{scheme}://{parts.netloc}", _strip_key(path)
    if scheme in ("hdfs", "viewfs"):
        return f"{scheme}://{parts.netloc}", posixpath.normpath(path or "/")
    authority = parts.netloc
    return f"{scheme}://{authority}", path or "/"


def uri_for(namespace: str, name: str) -> str:
    """The URI shown for a dataset: ``namespace/name`` (file: ``file:///abs``)."""
    if namespace == LOCAL_NAMESPACE:
        return "file://" + name
    if name.startswith("/"):
        return namespace + name
    return f"{namespace}/{name}"


def storage_layer(namespace: str) -> str:
    """Value of ``storage.storageLayer`` for plain files: where they are kept."""
    if namespace == LOCAL_NAMESPACE:
        return "local"
    scheme = namespace.split(":", 1)[0]
    return {"gs": "gcs", "abfss": "azure", "wasbs": "azure"}.get(scheme, scheme)


def collapse_identities(ids: list[tuple[str, str]], limit: int = 50) -> list[tuple[str, str]]:
    """Deduplicate, keep order, and fold very long explicit file lists.

    Reading thousands of explicitly listed files would otherwise produce
    thousands of datasets; past ``limit`` names in one namespace we keep their
    common parent directory instead.
    """
    seen: dict[tuple[str, str], None] = {}
    for ident in ids:
        seen.setdefault(ident, None)
    unique = list(seen)
    by_ns: dict[str, list[str]] = {}
    for ns, name in unique:
        by_ns.setdefault(ns, []).append(name)
    out: list[tuple[str, str]] = []
    for ns, names in by_ns.items():
        if len(names) <= limit:
            out.extend((ns, n) for n in names)
            continue
        try:
            common = posixpath.commonpath(names)
        except ValueError:  # mix of absolute and relative names
            common = ""
        out.append((ns, common or "/"))
    return out
