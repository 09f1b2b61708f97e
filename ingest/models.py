from __future__ import annotations

from django.db import models
from django.utils import timezone

from clouds.models import Cloud, IngestKey, TenantQuerySet
from orgs.models import Organization


class RawStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    PARKED = "parked", "Parked (failed, needs an operator)"


class RawEvent(models.Model):
    """The system of record: every accepted event, as received, before normalization.

    `body` is the event's canonical JSON (keys sorted, no insignificant whitespace): the same JSON
    value the client sent, in a byte-stable form, so `content_hash` = SHA-256(body) can be
    recomputed by anyone from an export. The catalog can be rebuilt from these rows.
    """

    # No index of its own: the unique (org, content_hash) serves lookups by org.
    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="raw_events", db_index=False)
    cloud = models.ForeignKey(Cloud, on_delete=models.PROTECT, related_name="raw_events")
    ingest_key = models.ForeignKey(IngestKey, null=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    event_time = models.DateTimeField()
    kind = models.CharField(max_length=8)  # run | dataset | job
    run_id = models.UUIDField(null=True, blank=True)
    body = models.TextField()
    content_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=RawStatus.choices, default=RawStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    enqueued_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Position and hash in the organization's tamper-evident chain (ingest.chain), set after the
    # request, by the transaction that normalizes the event (or parks it: ingest.sealing), so
    # the row is rewritten once after ingest. Ingest never waits on the chain.
    chain_seq = models.BigIntegerField(null=True, blank=True)
    chain_hash = models.CharField(max_length=64, blank=True)
    # Set when retention removed the body: the row stays as a tombstone that keeps its content
    # hash and chain position, so the gap in history is explained rather than invisible.
    expired_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "content_hash"], name="rawevent_unique_org_hash"),
            models.UniqueConstraint(fields=["org", "chain_seq"], name="rawevent_unique_org_seq"),
        ]
        indexes = [
            # The sweeper's query: only pending rows, which are few, are indexed.
            models.Index(fields=["enqueued_at"], name="rawevent_pending",
                         condition=models.Q(status="pending")),
            # The normalizer's claim, oldest first. An index scan in id order also marks the entries
            # of rows that stopped being pending as dead as it passes them, so the next claim skips
            # them even before vacuum (a bitmap scan of rawevent_pending visited every such row).
            models.Index(fields=["id"], name="rawevent_pending_id", condition=models.Q(status="pending")),
            models.Index(fields=["org", "run_id"], name="rawevent_org_run"),
            # The sealer's query: events normalization is done with but that are not sealed (parked).
            models.Index(fields=["org", "id"], name="rawevent_unsealed",
                         condition=models.Q(chain_seq__isnull=True) & ~models.Q(status="pending")),
            # Operators' list of parked events (manage.py pipeline): few rows, read by organization.
            models.Index(fields=["org", "id"], name="rawevent_parked", condition=models.Q(status="parked")),
        ]

    def __str__(self) -> str:
        return f"raw event {self.pk} ({self.status})"


class ClusterSighting(models.Model):
    """When a cluster was first seen, for events that do not say when their cluster started."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="+")
    cluster_key = models.CharField(max_length=300)
    first_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cloud", "cluster_key"], name="clustersighting_unique")]


class DropCount(models.Model):
    """Events refused by the capture rule, counted per cloud and day (their payload is not kept)."""

    cloud = models.ForeignKey(Cloud, on_delete=models.CASCADE, related_name="drop_counts")
    day = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cloud", "day"], name="dropcount_unique")]


class ChainSeal(models.Model):
    """The head of an organization's chain each time it was extended: sequence number, hash, time.

    The latest row is the head sealing continues from; earlier rows let anyone check that an
    export's chain ends where the service said it did at that time.
    """

    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="chain_seals")
    seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    events = models.PositiveIntegerField(help_text="Events sealed in this step.")
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-seq"]
        constraints = [models.UniqueConstraint(fields=["org", "seq"], name="chainseal_unique_org_seq")]


REGULATORY_MINIMUM_DAYS = 183  # EU AI Act art. 19/26: automatically generated logs kept at least six months


class RetentionPolicy(models.Model):
    """How long an organization's raw events are kept. Without a row, the regulatory minimum applies."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="retention_policy")
    days = models.PositiveIntegerField(default=REGULATORY_MINIMUM_DAYS)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        verbose_name_plural = "retention policies"
