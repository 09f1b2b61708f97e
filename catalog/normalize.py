"""Normalize OpenLineage events into the catalog, a batch at a time.

The ingest pipeline calls `prepare_batch` and `write_batch` (or `apply_events`, both) inside a transaction with events that passed the
contract (ingest.contract). A batch first merges its own events' stamped contributions row by row
(catalog.merge), then, holding its organization's catalog lock, reads the stored rows, merges
into them and writes back only what changed, a few set-based statements per table (see Writing).
Merging is order-independent and idempotent, so events may arrive late, twice, or in any order.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connection, models
from django.db.models import Max, Min

from catalog import naming
from catalog.bulk import Table
from catalog.merge import merge_into, merge_stamped, stamp_for
from catalog.models import (
    TERMINAL_STATES,
    Asset,
    AssetKind,
    Job,
    Run,
    RunAsset,
    SchemaVersion,
    Workload,
    WorkloadAsset,
)
from clouds.models import Cloud, Project
from ingest.contract import parse_time
from orgs.models import Organization

# Facets whose values may hold credentials; environmentVariables values under secret-looking
# names are never stored.
_SECRET_MARKERS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH", "PRIVATE", "SESSION")

# How sure an event is of its run's workload: a workload facet beats a parent chain beats the
# run's own job. The best-informed event decides, whatever order they arrive in.
_RANK_FACET, _RANK_PARENT, _RANK_SELF = "3", "2", "1"


@dataclass
class EventInput:
    """One valid event, as the pipeline hands it over."""

    event: dict
    cloud: Cloud
    content_hash: str


@dataclass
class _Contrib:
    """Stamped contributions to one row from the whole batch, merged as they are added (the merge
    is order-independent, so merging the batch first and the result into the stored row is the
    same as merging every event into the row)."""

    attrs: dict[str, Any] = field(default_factory=dict)
    stamps: dict[str, str] = field(default_factory=dict)
    first_wins: set[str] = field(default_factory=set)
    seed: dict[str, Any] = field(default_factory=dict)  # values needed to create the row

    def add(self, stamp: str, updates: dict[str, Any], first_wins: frozenset[str] = frozenset()) -> None:
        if first_wins:
            self.first_wins |= first_wins
        merge_into(self.attrs, self.stamps, updates, stamp, first_wins=first_wins)

    def merge_into(self, attrs: dict[str, Any], stamps: dict[str, str]) -> bool:
        return merge_stamped(attrs, stamps, self.attrs, self.stamps, self.first_wins)


_TIMES = frozenset({"first_event_at"})
# Asset facets that record what was observed (latest wins) rather than what the producer declared.
_OBSERVED_FACETS = ("facet:schema",)


def _time_updates(event_time: datetime) -> dict[str, Any]:
    iso = event_time.isoformat()
    return {"first_event_at": iso, "last_event_at": iso}


def _str(value: Any, limit: int = 255) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _safe_env(facet: dict) -> dict:
    """environmentVariables with the values of secret-looking names dropped."""
    out = []
    for item in facet.get("environmentVariables") or []:
        if not isinstance(item, dict):
            continue
        name = _str(item.get("name"), 256)
        if any(marker in name.upper() for marker in _SECRET_MARKERS):
            out.append({"name": name, "value": "[redacted]"})
        else:
            out.append({"name": name, "value": item.get("value")})
    return {**facet, "environmentVariables": out}


def _workload_for(event: dict) -> tuple[str, str, dict[str, Any]]:
    """(rank, external id, updates) of the workload an event belongs to."""
    run_facets = (event.get("run") or {}).get("facets") or {}
    wf = run_facets.get("workload")
    if isinstance(wf, dict):
        updates = {
            "kind": wf.get("type"),
            "name": _str(wf.get("name"), 512) or _str(wf.get("id"), 512),
            "status": _str(wf.get("status"), 64),
            "owner_email": _str(wf.get("ownerEmail"), 254),
            "project_public_id": _str(wf.get("projectId")),
            "cluster_id": _str(wf.get("clusterId")),
            "cluster_started_at": _str(wf.get("clusterStartedAt")),
            "ray_version": _str(wf.get("rayVersion"), 64),
            "python_version": _str(wf.get("pythonVersion"), 64),
            "os_version": _str(wf.get("osVersion")),
            "image": _str(wf.get("image"), 1024),
            "resources": wf.get("resources") if isinstance(wf.get("resources"), dict) else None,
        }
        return _RANK_FACET, wf["id"], {k: v for k, v in updates.items() if v not in ("", None)}
    parent = run_facets.get("parent") or {}
    root_job = (parent.get("root") or {}).get("job") or parent.get("job")
    rank = _RANK_PARENT
    if not root_job:
        root_job, rank = event.get("job") or {}, _RANK_SELF
    ext_id = f"{root_job['namespace']}/{root_job['name']}"
    return rank, ext_id[:512], {"kind": "job", "name": root_job["name"][:512], "derived": True}


def _job_updates(job: dict) -> dict[str, Any]:
    facets = job.get("facets") or {}
    updates: dict[str, Any] = {f"facet:{name}": value for name, value in facets.items() if isinstance(value, dict)}
    return updates


def _owner_from_job(job: dict) -> str:
    owners = ((job.get("facets") or {}).get("ownership") or {}).get("owners") or []
    for owner in owners:
        if isinstance(owner, dict) and isinstance(owner.get("name"), str):
            return owner["name"].removeprefix("user:")[:254]
    return ""


def _dataset_updates(ds: dict) -> dict[str, Any]:
    facets = ds.get("facets") or {}
    return {f"facet:{name}": value for name, value in facets.items() if isinstance(value, dict)}


def _fields_hash(fields: list) -> str:
    """The identity of a schema version: SHA-256 of its fields as sorted, compact JSON. Recurring
    schemas are remembered by a digest of their orjson form, which is cheaper to make than the
    sorted JSON (a digest, not the bytes: orjson's output buffers cost ~4 KB each to keep)."""
    try:
        seen = hashlib.blake2b(orjson.dumps(fields), digest_size=16).digest()
    except TypeError:  # integers beyond 64 bits
        return _canonical_fields_hash(fields)
    fhash = _FIELDS_HASHES.get(seen)
    if fhash is None:
        if len(_FIELDS_HASHES) >= 50_000:
            _FIELDS_HASHES.clear()
        fhash = _FIELDS_HASHES[seen] = _canonical_fields_hash(fields)
    return fhash


_FIELDS_HASHES: dict[bytes, str] = {}


def _canonical_fields_hash(fields: list) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class _Batch:
    """Everything one batch contributes, keyed by each table's natural key."""

    def __init__(self, org: Organization):
        self.org = org
        self.workloads: dict[str, _Contrib] = defaultdict(_Contrib)
        self.jobs: dict[tuple[str, str], _Contrib] = defaultdict(_Contrib)
        self.runs: dict[str, _Contrib] = defaultdict(_Contrib)
        self.assets: dict[tuple[str, str], _Contrib] = defaultdict(_Contrib)
        self.schemas: dict[tuple[tuple[str, str], str], tuple[list, datetime]] = {}
        self.schema_hashes: dict[tuple[str, str], list[tuple[list, str]]] = defaultdict(list)
        self.run_edges: dict[tuple[str, tuple[str, str], str], list[datetime]] = defaultdict(list)
        # JobEvents declare lineage without a run: edges straight from the job's workload.
        self.static_edges: dict[tuple[str, tuple[str, str], str], list[datetime]] = defaultdict(list)
        self.run_candidates: dict[str, list[tuple]] = defaultdict(list)
        # Projects the batch's workloads name (public id -> the cloud of the first event naming it).
        self.projects: dict[str, Cloud] = {}

    def add(self, item: EventInput) -> None:
        event, cloud = item.event, item.cloud
        # In UTC, so that the ISO strings kept in attrs compare like the instants they stand for.
        event_time = parse_time(event["eventTime"]).astimezone(UTC)
        stamp = stamp_for(event_time, item.content_hash)
        times = _time_updates(event_time)
        if "run" in event:
            self._add_run_event(event, cloud, stamp, event_time, times)
        elif "dataset" in event:
            self._add_asset(event["dataset"], cloud, stamp, event_time, times, workload_id="", owner="", project="",
                            declared=True)
        else:
            self._add_job_event(event, cloud, stamp, event_time, times)

    def _add_workload(self, ext_id: str, updates: dict, cloud: Cloud, stamp: str, times: dict) -> None:
        contrib = self.workloads[ext_id]
        contrib.add(stamp, {**updates, **times, "cloud_id": cloud.pk}, _TIMES | {"cloud_id"})
        if updates.get("project_public_id"):
            self.projects.setdefault(updates["project_public_id"], cloud)

    def _add_run_event(self, event: dict, cloud: Cloud, stamp: str, event_time: datetime, times: dict) -> None:
        run = event["run"]
        run_id = run["runId"].lower()
        job = event["job"]
        job_key = (job["namespace"], job["name"])
        rank, ext_id, wl_updates = _workload_for(event)
        owner = wl_updates.get("owner_email") or _owner_from_job(job)
        if owner:
            wl_updates = {**wl_updates, "owner_email": owner}
        code = (job.get("facets") or {}).get("sourceCodeLocation")
        if isinstance(code, dict):
            wl_updates = {**wl_updates, "code_location": code}
        # Which workload the run belongs to is decided once the whole batch and the stored run are
        # known (see _decide_workloads); until then this is one candidate.
        self.run_candidates[run_id].append((f"{rank}|{stamp}", ext_id, wl_updates, stamp, cloud, times))
        self.jobs[job_key].add(stamp, {**_job_updates(job), **times}, _TIMES)

        facets = run.get("facets") or {}
        run_updates: dict[str, Any] = {**times}
        for name, value in facets.items():
            if isinstance(value, dict) and name != "workload":
                run_updates[f"facet:{name}"] = _safe_env(value) if name == "environmentVariables" else value
        contrib = self.runs[run_id]
        contrib.seed.setdefault("job_key", job_key)
        contrib.add(stamp, run_updates, _TIMES)
        event_type = event.get("eventType") or ""
        if event_type and event_type != "OTHER":
            # Terminal states outrank non-terminal ones whatever the order events arrive in.
            terminal = "1" if event_type in TERMINAL_STATES else "0"
            contrib.add(f"{terminal}|{stamp}", {"state": [event_type, event_time.isoformat()]})
        if event_type == "START":
            contrib.add(stamp, {"started_at": event_time.isoformat()}, frozenset({"started_at"}))

        project = wl_updates.get("project_public_id", "")
        for direction, key in (("in", "inputs"), ("out", "outputs")):
            for ds in event.get(key) or []:
                asset_key = self._add_asset(ds, cloud, stamp, event_time, times, workload_id=ext_id, owner=owner,
                                            project=project, produced=direction == "out")
                if asset_key is not None:
                    self.run_edges[(run_id, asset_key, direction)].append(event_time)

    def _add_job_event(self, event: dict, cloud: Cloud, stamp: str, event_time: datetime, times: dict) -> None:
        job = event["job"]
        job_key = (job["namespace"], job["name"])
        self.jobs[job_key].add(stamp, {**_job_updates(job), **times}, _TIMES)
        ext_id = f"{job['namespace']}/{job['name']}"[:512]
        owner = _owner_from_job(job)
        self._add_workload(ext_id, {"kind": "job", "name": job["name"][:512], "derived": True,
                                                 **({"owner_email": owner} if owner else {})}, cloud, stamp, times)
        for direction, key in (("in", "inputs"), ("out", "outputs")):
            for ds in event.get(key) or []:
                asset_key = self._add_asset(ds, cloud, stamp, event_time, times, workload_id=ext_id, owner=owner,
                                            project="", produced=direction == "out")
                if asset_key is not None:
                    self.static_edges[(ext_id, asset_key, direction)].append(event_time)

    def _add_asset(self, ds: dict, cloud: Cloud, stamp: str, event_time: datetime, times: dict, *,
                   workload_id: str, owner: str, project: str, produced: bool = False,
                   declared: bool = False) -> tuple[str, str] | None:
        placed = naming.place_asset(ds["namespace"], ds["name"], workload_id=workload_id or "unknown",
                                    cloud_id=cloud.public_id)
        if placed is None:
            return None
        key = placed
        contrib = self.assets[key]
        origin = {"cloud_id": cloud.pk, "created_by": owner, "project_public_id": project}
        # "Created by" is whoever first produced it; a reader only counts when no producer is known.
        contrib.add(stamp if produced else "~" + stamp, {"origin": origin}, frozenset({"origin"}))
        # What an asset is (its model facts, type, owners...) is the producer's word, or a
        # DatasetEvent's: a reader's facets only fill in what no producer said, so loading a model
        # with another flavor does not rewrite the model. The schema is an observation instead:
        # the latest one seen wins, whoever saw it (every version is kept in SchemaVersion).
        facets = _dataset_updates(ds)
        observed = {k: facets.pop(k) for k in _OBSERVED_FACETS if k in facets}
        contrib.add(f"{'1' if produced or declared else '0'}|{stamp}", facets)
        contrib.add(stamp, {**observed, **times}, _TIMES)
        fields = ((ds.get("facets") or {}).get("schema") or {}).get("fields")
        if isinstance(fields, list) and fields:
            # Most events repeat a schema the batch has seen: compare before hashing.
            known = self.schema_hashes[key]
            fhash = next((h for f, h in known if f == fields), None)
            if fhash is None:
                fhash = _fields_hash(fields)
                known.append((fields, fhash))
            seen = self.schemas.get((key, fhash))
            if seen is None or event_time < seen[1]:
                self.schemas[(key, fhash)] = (fields, event_time)
        return key


# --- Writing ---------------------------------------------------------------------------------------
#
# One organization's catalog has one writer at a time (lock_catalog), so a batch reads its rows,
# merges in Python and writes back without row locks: per table one SELECT, one multi-row INSERT
# of the new rows and one UPDATE ... FROM (VALUES ...) of the changed ones; edges and schema
# versions are a single INSERT ... ON CONFLICT that widens first/last seen (catalog.bulk.Table).

# pg_advisory_xact_lock(class, org id): the class keeps these locks apart from any other use.
_CATALOG_LOCK_CLASS = 7_411


def lock_catalog(org_id: int, *, wait: bool = True) -> bool:
    """Serialize the writers of one organization's catalog and chain (normalizer batches,
    sealers, rebuilds) until the transaction ends. Other organizations proceed in parallel;
    SQLite has one writer anyway. With wait=False, returns False at once if another holds it."""
    if connection.vendor != "postgresql":
        return True
    take = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {take}(%s, %s)", [_CATALOG_LOCK_CLASS, org_id])
        return wait or cursor.fetchone()[0]


@dataclass
class _Stored:
    pk: int
    attrs: dict[str, Any]
    stamps: dict[str, str]
    extra: tuple = ()


def _read(model: type[models.Model], org: Organization, key_fields: tuple[str, ...], keys: Iterable,
          extra: tuple[str, ...] = ()) -> dict[Any, _Stored]:
    n = len(key_fields)
    rows = Table(model).select({"org": org.pk}, key_fields, sorted(keys), [*key_fields, "id", "attrs", "stamps", *extra])
    return {(r[0] if n == 1 else r[:n]): _Stored(r[n], r[n + 1], r[n + 2], r[n + 3:]) for r in rows}


def _write(model: type[models.Model], org: Organization, key_fields: tuple[str, ...], contribs: dict,
           stored: dict[Any, _Stored], *, seed: Callable[[Any, _Contrib], dict[str, Any]],
           project: Callable[[Any, dict[str, Any], _Stored | None], dict[str, Any]]) -> dict[Any, int]:
    """Merge each row's contributions into its stored facts, write the rows that changed, insert
    the new ones. `seed` gives a new row's fixed columns, `project` the columns derived from its
    facts. Returns the primary key of every row of the batch."""
    table = Table(model)
    pks: dict[Any, int] = {}
    changed: list[tuple] = []
    new: list[tuple] = []
    update_columns: list[str] = []
    insert_columns: list[str] = []
    for key in sorted(contribs):
        contrib = contribs[key]
        old = stored.get(key)
        if old is not None:
            pks[key] = old.pk
            if contrib.merge_into(old.attrs, old.stamps):
                values = project(key, old.attrs, old)
                update_columns = update_columns or ["attrs", "stamps", *values]
                changed.append((old.pk, old.attrs, old.stamps, *values.values()))
        else:
            attrs, stamps = dict(contrib.attrs), dict(contrib.stamps)
            keys = dict(zip(key_fields, (key,) if len(key_fields) == 1 else key, strict=True))
            values = {"org": org.pk, **keys, **seed(key, contrib), "attrs": attrs, "stamps": stamps,
                      **project(key, attrs, None)}
            insert_columns = insert_columns or list(values)
            new.append((key, tuple(values.values())))
    table.update(update_columns, changed)
    ids = table.insert(insert_columns, [row for _, row in new])
    pks.update(zip((key for key, _ in new), ids, strict=True))
    return pks


# Times kept in attrs are this module's own isoformat() strings.
_instant = datetime.fromisoformat


def _times(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"created_at": _instant(attrs["first_event_at"]), "updated_at": _instant(attrs["last_event_at"])}


def _decide_workloads(batch: _Batch, stored_runs: dict[uuid.UUID, _Stored]) -> None:
    """Give each run of the batch its workload: the best-informed candidate among the stored run
    and the batch's events. Only that workload receives the events' facts; events that guessed
    another one still count towards its first and last event times."""
    for run_id, candidates in batch.run_candidates.items():
        rank_stamp, final = max((c[0], c[1]) for c in candidates)
        old = stored_runs.get(uuid.UUID(run_id))
        if old is not None and old.stamps.get("workload", "") >= rank_stamp:
            rank_stamp, final = old.stamps["workload"], old.attrs["workload"]
        batch.runs[run_id].add(rank_stamp, {"workload": final})
        for _, ext_id, updates, stamp, cloud, times in candidates:
            batch._add_workload(final, updates if ext_id == final else {}, cloud, stamp, times)
        if old is not None and old.attrs.get("workload") != final:
            # The run moves: its earlier events' times move with it.
            for key in ("first_event_at", "last_event_at"):
                batch.workloads[final].add(old.stamps[key], {key: old.attrs[key]}, _TIMES)


def apply_events(org: Organization, items: Iterable[EventInput]) -> None:
    """Normalize a batch of one organization's events. Call inside a transaction."""
    write_batch(prepare_batch(org, items))


def prepare_batch(org: Organization, items: Iterable[EventInput]) -> _Batch:
    """Collect and merge what the events contribute: Python only, no database and no lock held,
    so another worker's batch of the same organization can write meanwhile."""
    batch = _Batch(org)
    for item in items:
        batch.add(item)
    return batch


def write_batch(batch: _Batch) -> None:
    """Merge a prepared batch into the stored catalog, holding its organization's catalog lock
    from before the first read to the end of the transaction."""
    org = batch.org
    lock_catalog(org.pk)
    runs_in = {uuid.UUID(k): c for k, c in batch.runs.items()}
    stored_runs = _read(Run, org, ("run_id",), runs_in, extra=("workload",))
    _decide_workloads(batch, stored_runs)
    projects = _resolve_projects(org, batch)

    def project_workload(key, a: dict, old) -> dict[str, Any]:
        return {"kind": a.get("kind") or "job", "name": a.get("name", ""), "status": a.get("status", ""),
                "owner_email": a.get("owner_email", ""), "derived": bool(a.get("derived")),
                "project": projects(a.get("cloud_id"), a.get("project_public_id", "")), **_times(a)}

    workloads = _write(Workload, org, ("external_id",), batch.workloads,
                       _read(Workload, org, ("external_id",), batch.workloads),
                       seed=lambda k, c: {"cloud": c.attrs["cloud_id"]}, project=project_workload)

    def project_job(key, a: dict, old) -> dict[str, Any]:
        jt = a.get("facet:jobType") or {}
        return {"job_type": _str(jt.get("jobType"), 64), "integration": _str(jt.get("integration"), 64), **_times(a)}

    jobs = _write(Job, org, ("namespace", "name"), batch.jobs, _read(Job, org, ("namespace", "name"), batch.jobs),
                  seed=lambda k, c: {}, project=project_job)

    # Runs point at their best-informed workload. A run that moved leaves its old workload.
    moved: dict[uuid.UUID, int] = {}

    def project_run(key, a: dict, old: _Stored | None) -> dict[str, Any]:
        state = a.get("state")
        started = a.get("started_at") or a.get("first_event_at")
        parent = (a.get("facet:parent") or {}).get("run") or {}
        workload = workloads[a["workload"]]
        if old is not None and old.extra[0] != workload:
            moved[key] = old.extra[0]
        return {
            "state": state[0] if state else "",
            "ended_at": _instant(state[1]) if state and state[0] in TERMINAL_STATES else None,
            "started_at": _instant(started) if started else None,
            "parent_run_id": parent.get("runId"),
            "error_message": _str((a.get("facet:errorMessage") or {}).get("message"), 10_000),
            "workload": workload,
            **_times(a),
        }

    runs = _write(Run, org, ("run_id",), runs_in, stored_runs,
                  seed=lambda k, c: {"job": jobs[c.seed["job_key"]]}, project=project_run)
    # Every run of the batch got its final workload from _decide_workloads.
    run_workload = {runs[run_id]: workloads[contrib.attrs["workload"]] for run_id, contrib in runs_in.items()}

    def project_asset(key, a: dict, old) -> dict[str, Any]:
        facets = {k.removeprefix("facet:"): v for k, v in a.items() if k.startswith("facet:")}
        origin = a.get("origin") or {}
        return {
            "kind": AssetKind.MODEL if naming.is_model(facets) else AssetKind.DATASET,
            "dataset_type": naming.dataset_type(facets, key[0], key[1]),
            "cloud": origin.get("cloud_id"),
            "created_by": origin.get("created_by", ""),
            "project": projects(origin.get("cloud_id"), origin.get("project_public_id", "")),
            **_times(a),
        }

    assets = _write(Asset, org, ("namespace", "name"), batch.assets,
                    _read(Asset, org, ("namespace", "name"), batch.assets),
                    seed=lambda k, c: {"uri": naming.uri(*k)[:3072]}, project=project_asset)

    _write_schemas(batch, assets)
    _write_edges(org, batch, runs, assets, workloads, run_workload, moved)


def _resolve_projects(org: Organization, batch: _Batch) -> Callable[[int | None, str], int | None]:
    """A lookup of (cloud pk, project public id) -> project pk, registering the projects this
    batch's workloads report that are not known yet."""
    wanted = batch.projects
    known: dict[tuple[int | None, str], int | None] = {}
    if wanted:
        Project.objects.bulk_create(
            [Project(org=org, cloud=cloud, name=pid[:100], public_id=pid) for pid, cloud in sorted(wanted.items())],
            ignore_conflicts=True,
        )
        # Only a project of the workload's own org is linked (ingest refuses the others).
        for pk, cloud_id, pid in Project.objects.filter(org=org, public_id__in=list(wanted)).values_list(
            "pk", "cloud_id", "public_id"
        ):
            known[(cloud_id, pid)] = pk

    def lookup(cloud_id: int | None, public_id: str) -> int | None:
        if not public_id or cloud_id is None:
            return None
        if (cloud_id, public_id) not in known:
            known[(cloud_id, public_id)] = (
                Project.objects.filter(org=org, cloud_id=cloud_id, public_id=public_id).values_list("pk", flat=True).first()
            )
        return known[(cloud_id, public_id)]

    return lookup


def _write_schemas(batch: _Batch, assets: dict) -> None:
    """Every distinct schema of an asset, keeping its earliest sighting when a version arrives late."""
    rows = sorted((assets[akey], fhash, fields, seen)
                  for (akey, fhash), (fields, seen) in batch.schemas.items())
    Table(SchemaVersion).widen(["asset", "fields_hash", "fields", "first_seen_at"], rows,
                               conflict=["asset", "fields_hash"], least=["first_seen_at"])


def _widen_edges(model: type[models.Model], org: Organization, scope_field: str,
                 edges: dict[tuple[int, int, str], tuple[datetime, datetime]]) -> None:
    """Insert edges, widening first/last seen of existing ones."""
    rows = [(org.pk, s, a, d, first, last) for (s, a, d), (first, last) in sorted(edges.items())]
    Table(model).widen(["org", scope_field, "asset", "direction", "first_seen_at", "last_seen_at"], rows,
                       conflict=[scope_field, "asset", "direction"], least=["first_seen_at"],
                       greatest=["last_seen_at"])


def _write_edges(org, batch: _Batch, runs: dict, assets: dict, workloads: dict, run_workload: dict[int, int],
                 moved: dict[uuid.UUID, int]) -> None:
    run_edges: dict[tuple[int, int, str], tuple[datetime, datetime]] = {}
    for (run_id, akey, direction), times in batch.run_edges.items():
        run_edges[(runs[uuid.UUID(run_id)], assets[akey], direction)] = (min(times), max(times))
    _widen_edges(RunAsset, org, "run", run_edges)

    # Workload edges are the union of their runs' edges; build them from this batch's run edges.
    wl_edges: dict[tuple[int, int, str], tuple[datetime, datetime]] = {}

    def widen(key, first, last):
        old = wl_edges.get(key)
        wl_edges[key] = (min(first, old[0]), max(last, old[1])) if old else (first, last)

    for (run_pk, asset_pk, direction), (first, last) in run_edges.items():
        widen((run_workload[run_pk], asset_pk, direction), first, last)
    for (ext_id, akey, direction), times in batch.static_edges.items():
        widen((workloads[ext_id], assets[akey], direction), min(times), max(times))

    if moved:
        # A better-informed event moved runs to another workload: carry all their earlier edges
        # over, and rebuild the edges of the workloads they left.
        moved_pks = [runs[r] for r in moved]
        for edge in RunAsset.objects.filter(run_id__in=moved_pks).select_related("run"):
            widen((edge.run.workload_id, edge.asset_id, edge.direction), edge.first_seen_at, edge.last_seen_at)
        _widen_edges(WorkloadAsset, org, "workload", wl_edges)
        _rebuild_workload_edges(org, set(moved.values()))
    else:
        _widen_edges(WorkloadAsset, org, "workload", wl_edges)


def _rebuild_workload_edges(org, workload_pks: set[int]) -> None:
    WorkloadAsset.objects.filter(workload_id__in=workload_pks).delete()
    aggregated = (
        RunAsset.objects.filter(run__workload_id__in=workload_pks)
        .values("run__workload_id", "asset_id", "direction")
        .annotate(first=Min("first_seen_at"), last=Max("last_seen_at"))
    )
    WorkloadAsset.objects.bulk_create([
        WorkloadAsset(org=org, workload_id=e["run__workload_id"], asset_id=e["asset_id"], direction=e["direction"],
                      first_seen_at=e["first"], last_seen_at=e["last"]) for e in aggregated
    ])
    # A derived workload nothing points at any more was a guess that a better event corrected.
    Workload.objects.filter(pk__in=workload_pks, derived=True, runs__isnull=True).delete()
