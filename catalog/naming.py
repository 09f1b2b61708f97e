"""Naming rules for catalog assets: local-path capture and rewriting, URIs, dataset types.

Framework-free; tested as plain functions.
"""

from __future__ import annotations

import posixpath
from urllib.parse import quote

CLUSTER_STORAGE = "/mnt/cluster_storage"
SHARED_STORAGE = "/mnt/shared_storage"

_DB_SCHEMES = {
    "postgres", "postgresql", "mysql", "mariadb", "sqlserver", "mssql", "oracle", "db2", "redshift",
    "snowflake", "bigquery", "hive", "trino", "presto", "teradata", "databricks", "sqlite", "duckdb",
    "clickhouse", "awsathena", "glue", "iceberg", "cassandra", "mongodb", "spanner", "vertica", "jdbc",
}
_FORMATS = {
    "parquet": "Parquet", "csv": "CSV", "tsv": "CSV", "json": "JSON", "jsonl": "JSON", "ndjson": "JSON",
    "text": "Text", "txt": "Text", "image": "Image", "images": "Image", "audio": "Audio", "video": "Video",
    "avro": "Avro", "tfrecord": "TFRecords", "tfrecords": "TFRecords", "webdataset": "WebDataset",
    "binary": "Binary", "bin": "Binary", "orc": "ORC", "delta": "Delta", "iceberg": "Iceberg",
    "hudi": "Hudi", "numpy": "NumPy", "npy": "NumPy", "lance": "Lance",
}
_EXTENSIONS = {
    ".parquet": "Parquet", ".pq": "Parquet", ".csv": "CSV", ".tsv": "CSV", ".json": "JSON",
    ".jsonl": "JSON", ".ndjson": "JSON", ".txt": "Text", ".png": "Image", ".jpg": "Image",
    ".jpeg": "Image", ".gif": "Image", ".bmp": "Image", ".tif": "Image", ".tiff": "Image",
    ".webp": "Image", ".wav": "Audio", ".mp3": "Audio", ".flac": "Audio", ".ogg": "Audio",
    ".m4a": "Audio", ".mp4": "Video", ".avi": "Video", ".mov": "Video", ".mkv": "Video",
    ".webm": "Video", ".avro": "Avro", ".tfrecord": "TFRecords", ".tfrecords": "TFRecords",
    ".tar": "WebDataset", ".bin": "Binary", ".orc": "ORC", ".npy": "NumPy", ".lance": "Lance",
}
_DATASET_TYPES = {
    "table": "Table", "view": "View", "topic": "Topic", "stream": "Stream", "file": "File",
    "model": "Model", "directory": "Directory", "materialized_view": "View",
}


def is_local(namespace: str) -> bool:
    return namespace == "file" or namespace.startswith("file:")


def place_asset(namespace: str, name: str, *, workload_id: str, cloud_id: str) -> tuple[str, str] | None:
    """Where an event's dataset goes in the catalog, or None if it is not tracked.

    Local paths are tracked only under /mnt/cluster_storage (private to the workload's cluster,
    so qualified by the workload id) and /mnt/shared_storage (shared by the cloud, so qualified by
    the cloud id); any other local path is left out. Other namespaces are kept as sent.
    """
    if not is_local(namespace):
        return namespace, name
    path = name[len("file://"):] if name.startswith("file://") else name
    if not path.startswith("/"):
        return None
    path = posixpath.normpath(path)  # "/mnt/cluster_storage/../../etc" must not pass the check below
    if path == CLUSTER_STORAGE or path.startswith(CLUSTER_STORAGE + "/"):
        return f"file://{quote(workload_id, safe='')}", path
    if path == SHARED_STORAGE or path.startswith(SHARED_STORAGE + "/"):
        return f"file://{quote(cloud_id, safe='')}", path
    return None


def uri(namespace: str, name: str) -> str:
    """`namespace/name`, without doubling the slash when the name is an absolute path."""
    if name.startswith("/") or namespace.endswith("/"):
        return f"{namespace}{name}"
    return f"{namespace}/{name}"


def dataset_type(facets: dict, namespace: str, name: str) -> str:
    """The type shown in the catalog: datasetType facet, then storage.fileFormat, then the file
    extension, then Table for database namespaces, else Unknown."""
    declared = (facets.get("datasetType") or {}).get("datasetType")
    if isinstance(declared, str) and declared.strip():
        return _DATASET_TYPES.get(declared.strip().lower(), declared.strip().title()[:64])
    fmt = (facets.get("storage") or {}).get("fileFormat")
    if isinstance(fmt, str) and fmt.strip():
        return _FORMATS.get(fmt.strip().lower(), fmt.strip().title()[:64])
    base = posixpath.basename(name.rstrip("/")).lower()
    for suffix in (".gz", ".bz2", ".zst", ".snappy", ".lz4"):
        base = base.removesuffix(suffix)
    ext = posixpath.splitext(base)[1]
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    scheme = namespace.split("://", 1)[0].split(":", 1)[0].lower()
    if scheme in _DB_SCHEMES:
        return "Table"
    return "Unknown"


def is_model(facets: dict) -> bool:
    declared = (facets.get("datasetType") or {}).get("datasetType")
    return (isinstance(declared, str) and declared.strip().upper() == "MODEL") or isinstance(facets.get("mlflowModel"), dict)
