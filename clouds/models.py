from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from clouds.keys import new_public_id
from orgs.models import Organization


class TenantQuerySet(models.QuerySet):
    """Base for every tenant-owned model: the one scoping entry point is `in_org`."""

    def in_org(self, org: Organization) -> TenantQuerySet:
        return self.filter(org=org)


class CloudQuerySet(TenantQuerySet):
    def with_lineage_state(self) -> CloudQuerySet:
        """Annotate `lineage_on`, the toggle's current state, in the same query (lists show it per cloud)."""
        latest = (
            LineageToggleChange.objects.filter(cloud=OuterRef("pk")).order_by("-changed_at", "-id").values("enabled")[:1]
        )
        return self.annotate(lineage_on=Coalesce(Subquery(latest), Value(False)))

    def owned_by(self, user) -> CloudQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(owners__user=user)


class Cloud(models.Model):
    """A cloud (account/region deployment) of an organization where workloads run."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="clouds")
    name = models.CharField(max_length=100)
    public_id = models.CharField(max_length=32, unique=True, default="", editable=False,
                                 help_text="Id workloads report (cloudId) and shared-storage URIs use.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CloudQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="cloud_unique_org_name")]

    def save(self, *args, **kwargs):
        if not self.public_id:
            self.public_id = new_public_id("cld")
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.name

    def lineage_enabled_at(self, when: datetime) -> bool:
        """Was lineage tracking on at `when`? The toggle history is the source of truth; never set means off."""
        latest = (
            self.toggle_changes.filter(changed_at__lte=when).order_by("-changed_at", "-id").values_list("enabled", flat=True).first()
        )
        return bool(latest)

    @property
    def lineage_enabled(self) -> bool:
        latest = self.toggle_changes.order_by("-changed_at", "-id").values_list("enabled", flat=True).first()
        return bool(latest)


class CloudOwner(models.Model):
    """Owners of a cloud: only they flip its lineage toggle."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="owners")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_clouds")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cloud", "user"], name="cloudowner_unique")]


class Project(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    public_id = models.CharField(max_length=64, unique=True, help_text="Id workloads report as projectId.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["cloud", "name"], name="project_unique_cloud_name")]

    def save(self, *args, **kwargs):
        if not self.public_id:
            self.public_id = new_public_id("prj")
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.name


class LineageToggleChange(models.Model):
    """Append-only history of a cloud's lineage toggle; the capture rule reads it."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="toggle_changes")
    enabled = models.BooleanField()
    changed_at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=254)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["cloud", "changed_at"], name="toggle_cloud_time")]


class IngestKeyQuerySet(TenantQuerySet):
    def active(self) -> IngestKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class IngestKey(models.Model):
    """A per-cloud secret workloads send as `Authorization: Bearer ...`. Stored hashed, shown once."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="ingest_keys")
    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="ingest_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = IngestKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (lk_{self.prefix}_…)"
