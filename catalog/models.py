"""The normalized catalog: workloads, OpenLineage jobs and runs, assets, and the edges between them.

Rows are derived from the raw event store (ingest.RawEvent) and can be rebuilt from it. Each row
keeps `attrs` (the merged facts) and `stamps` (which event wrote each fact, see catalog.merge);
columns shown in lists and used by filters are projections of `attrs`, refreshed on every merge.

Every index costs the normalizer a write per new row version, so a foreign key whose lookups a
composite index already serves (its leading column) has none of its own (`db_index=False`).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F
from django.db.models.functions import Upper

from clouds.models import Cloud, Project, TenantQuerySet
from orgs.models import Organization


class MergedFacts:
    """Read helpers for rows that keep merged facts in `attrs` (facets under `facet:<name>`)."""

    attrs: dict

    @property
    def facets(self) -> dict:
        return {k.removeprefix("facet:"): v for k, v in self.attrs.items() if k.startswith("facet:")}


class WorkloadKind(models.TextChoices):
    JOB = "job", "Job"
    SERVICE = "service", "Service"
    WORKSPACE = "workspace", "Workspace"


class Workload(MergedFacts, models.Model):
    """A platform workload (Job, Service, Workspace), or a job derived from an OpenLineage parent chain."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="workloads", db_index=False)
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="workloads")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="workloads")
    external_id = models.CharField(max_length=512, help_text="Platform workload id, or namespace/name of the root job.")
    kind = models.CharField(max_length=16, choices=WorkloadKind.choices, default=WorkloadKind.JOB)
    name = models.CharField(max_length=512, blank=True)
    status = models.CharField(max_length=64, blank=True)
    owner_email = models.CharField(max_length=254, blank=True)
    derived = models.BooleanField(default=False, help_text="True when no workload facet named it (dbt, Airflow, Spark...).")
    created_at = models.DateTimeField(help_text="Time of the earliest event seen for it.")
    updated_at = models.DateTimeField(help_text="Time of the latest event seen for it.")
    attrs = models.JSONField(default=dict)
    stamps = models.JSONField(default=dict)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["org", "external_id"], name="workload_unique_org_extid")]
        indexes = [
            # The list's orders, ending with the id as the list's ordering does: a deep page skips
            # rows by reading the index alone (catalog.pagination), also when filtered by cloud or
            # project (INCLUDEd, so the filter is checked in the index, not in the table).
            models.Index(fields=["org", "-created_at", "-id"], include=["cloud", "project"],
                         name="workload_org_created_cov"),
            models.Index(fields=["org", "kind", "-created_at", "-id"], include=["cloud", "project"],
                         name="workload_org_kind_cov"),
            models.Index(fields=["org", "name", "id"], include=["cloud", "project"], name="workload_org_name_cov"),
            # "Created by me" newest first (the default view), and the status dropdown's values.
            models.Index(F("org"), Upper("owner_email"), F("created_at").desc(), include=["owner_email"],
                         name="workload_org_owner_cov"),
            models.Index(fields=["org", "status"], name="workload_org_status"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id

    @property
    def details(self) -> dict:
        """Platform facts about the workload (versions, resources, image, cluster, code location)."""
        shown = ("cluster_id", "cluster_started_at", "ray_version", "python_version", "os_version", "image",
                 "resources", "code_location", "project_public_id")
        return {k: self.attrs[k] for k in shown if k in self.attrs}


class Job(MergedFacts, models.Model):
    """An OpenLineage job (namespace + name)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="jobs", db_index=False)
    namespace = models.CharField(max_length=1024)
    name = models.CharField(max_length=1024)
    job_type = models.CharField(max_length=64, blank=True)
    integration = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    attrs = models.JSONField(default=dict)
    stamps = models.JSONField(default=dict)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["namespace", "name"]
        constraints = [models.UniqueConstraint(fields=["org", "namespace", "name"], name="job_unique_org_ns_name")]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class RunState(models.TextChoices):
    START = "START", "Started"
    RUNNING = "RUNNING", "Running"
    COMPLETE = "COMPLETE", "Completed"
    ABORT = "ABORT", "Aborted"
    FAIL = "FAIL", "Failed"
    OTHER = "OTHER", "Other"


TERMINAL_STATES = frozenset({RunState.COMPLETE, RunState.ABORT, RunState.FAIL})


class Run(MergedFacts, models.Model):
    """An OpenLineage run of a job, inside a workload."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="runs", db_index=False)
    run_id = models.UUIDField()
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs")
    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="runs", db_index=False)
    state = models.CharField(max_length=16, choices=RunState.choices, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    parent_run_id = models.UUIDField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    attrs = models.JSONField(default=dict)
    stamps = models.JSONField(default=dict)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["org", "run_id"], name="run_unique_org_runid")]
        indexes = [models.Index(fields=["workload", "-created_at"], name="run_workload_created")]

    def __str__(self) -> str:
        return str(self.run_id)


class AssetKind(models.TextChoices):
    DATASET = "dataset", "Dataset"
    MODEL = "model", "Model"


class Asset(MergedFacts, models.Model):
    """A dataset or a model, identified by OpenLineage namespace and name within the organization."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="assets", db_index=False)
    namespace = models.CharField(max_length=1024)
    name = models.CharField(max_length=2048)
    kind = models.CharField(max_length=16, choices=AssetKind.choices, default=AssetKind.DATASET)
    dataset_type = models.CharField(max_length=64, default="Unknown")
    uri = models.CharField(max_length=3072)
    # Where it was first seen: the cloud, project and owner of that workload.
    cloud = models.ForeignKey(Cloud, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets",
                              db_index=False)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="assets",
                                db_index=False)
    created_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    attrs = models.JSONField(default=dict)
    stamps = models.JSONField(default=dict)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["org", "namespace", "name"], name="asset_unique_org_ns_name")]
        indexes = [
            # Newest first and by name, ending with the id as the lists' orderings do: a deep page
            # skips rows by reading the index alone (catalog.pagination), also when filtered by cloud
            # or project (INCLUDEd, so the filter is checked in the index, not in the table).
            models.Index(fields=["org", "kind", "-created_at", "-id"], include=["cloud", "project"],
                         name="asset_org_kind_created_cov"),
            # The list pages: sort by name; "created by me" (iexact compiles to UPPER(col) = UPPER(%s))
            # newest first, the default view; type filter and the type dropdown's distinct values.
            # INCLUDE the column itself: PostgreSQL only counts from an expression index without
            # visiting the table (index-only scan) when the expression's column is in the index
            # (measured: 90 ms -> 3 ms counting 14k of 186k rows). "Created by me" and the type also end
            # with the id and hold the cloud and project, as the order indexes do, so a deep page's keys
            # are read from the index alone too (14k of 186k datasets created by me, middle page: ~30 ms
            # visiting the table for each -> ~9 ms; 26k CSV datasets: ~20-80 ms -> a few).
            models.Index(fields=["org", "kind", "name", "id"], include=["cloud", "project"],
                         name="asset_org_kind_name_cov"),
            models.Index(F("org"), F("kind"), Upper("created_by"), F("created_at").desc(), F("id").desc(),
                         include=["created_by", "cloud", "project"], name="asset_org_kind_creator_id_cov"),
            models.Index(F("org"), F("kind"), Upper("dataset_type"), F("created_at").desc(), F("id").desc(),
                         include=["dataset_type", "cloud", "project"], name="asset_org_kind_type_id_cov"),
            models.Index(fields=["org", "kind", "dataset_type"], name="asset_org_kind_type"),
            # A cloud's or a project's rows newest first (they stand in for the foreign keys' own
            # indexes): the list filtered by one counts and skips rows in its own range of the index,
            # not the org's whole range checked row by row (one project's 19 000 of 186 000 datasets:
            # count and middle page ~40 ms each -> a few ms).
            models.Index(fields=["cloud", "kind", "-created_at", "-id"], include=["org", "project"],
                         name="asset_cloud_kind_created_cov"),
            models.Index(fields=["project", "kind", "-created_at", "-id"], include=["org", "cloud"],
                         name="asset_project_kind_created_cov"),
        ]

    def __str__(self) -> str:
        return self.uri

    @property
    def schema_fields(self) -> list:
        return (self.facets.get("schema") or {}).get("fields") or []


class SchemaVersion(models.Model):
    """One distinct schema an asset was seen with, and when it was first seen."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="schema_versions", db_index=False)
    fields_hash = models.CharField(max_length=64)
    fields = models.JSONField()
    first_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["first_seen_at", "id"]
        constraints = [models.UniqueConstraint(fields=["asset", "fields_hash"], name="schemaversion_unique")]


class Direction(models.TextChoices):
    INPUT = "in", "Input"
    OUTPUT = "out", "Output"


class RunAsset(models.Model):
    """A run read (in) or wrote (out) an asset."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="asset_edges", db_index=False)
    # No index of its own: runasset_asset_dir leads with the asset (one index fewer to write per edge).
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="run_edges", db_index=False)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "asset", "direction"], name="runasset_unique")]
        indexes = [models.Index(fields=["asset", "direction"], name="runasset_asset_dir")]


class WorkloadAsset(models.Model):
    """A workload read (in) or wrote (out) an asset: the edge table the lineage graph walks."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="asset_edges", db_index=False)
    # No index of its own: workloadasset_asset_recent leads with the asset.
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="workload_edges", db_index=False)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    first_seen_at = models.DateTimeField(help_text="Lineage 'as of' a time hides edges first seen after it.")
    last_seen_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workload", "asset", "direction"], name="workloadasset_unique")]
        indexes = [
            # An asset's edges one way, most recently seen first: the graph shows a hub's latest 25
            # of 5,000 readers by reading 25 index entries, not by sorting 5,000 rows. INCLUDE makes
            # neighbour counts, as-of filters and related-workload lists index-only.
            models.Index(fields=["asset", "direction", "-last_seen_at", "-id"],
                         include=["org", "workload", "first_seen_at"], name="workloadasset_asset_recent"),
        ]

