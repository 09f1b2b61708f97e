from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class OrganizationQuerySet(models.QuerySet):
    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> OrganizationQuerySet:
        """Organizations the user may see: platform staff see all, others those they belong to."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(memberships__user=user)


class Organization(models.Model):
    """A tenant. Every catalog row, cloud and ingest key belongs to exactly one."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    lineage_beta_enabled = models.BooleanField(
        default=False, help_text="While off, no lineage is accepted for any cloud of the organization."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Org admin"
    MEMBER = "member", "Member"
    AUDITOR = "auditor", "Auditor"


class MembershipQuerySet(models.QuerySet):
    def in_org(self, org: Organization) -> MembershipQuerySet:
        return self.filter(org=org)


class Membership(models.Model):
    """A user's role in one organization (a user may belong to several)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "user"], name="membership_unique_org_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.org} ({self.role})"


def org_for_request(user: AbstractBaseUser | AnonymousUser, slug: str) -> Organization:
    """The one way a request finds its organization: 404 unless the user may see it."""
    try:
        org = Organization.objects.for_user(user).distinct().get(slug=slug)
    except Organization.DoesNotExist:
        raise Http404("No such organization") from None
    return org


class AuditEntryQuerySet(models.QuerySet):
    def in_org(self, org: Organization) -> AuditEntryQuerySet:
        """The one scoping entry point for reading an organization's log (platform-level entries,
        org=None, such as outsiders' denied attempts, are only in the Django admin)."""
        return self.filter(org=org)

    def update(self, **kwargs):
        raise PermissionError("Audit entries are append-only")

    def delete(self):
        raise PermissionError("Audit entries are append-only")


class AuditEntry(models.Model):
    """One change of governance state, or one denied attempt at one. Append-only.

    The application refuses update and delete (model and queryset); on PostgreSQL a trigger
    refuses them too, so raw SQL cannot rewrite history either.
    """

    org = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_entries")
    # PROTECT, not SET_NULL: nulling the actor would rewrite history (and the PostgreSQL trigger
    # refuses the UPDATE anyway). Someone who acted is deactivated (is_active=False), not deleted.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Kept as text too, so the entry reads the same whatever happens to the account.
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    cloud_id = models.BigIntegerField(null=True, blank=True, help_text="Cloud the target belongs to, for filtering.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    allowed = models.BooleanField(default=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["org", "-created_at"], name="audit_org_time")]
        verbose_name_plural = "audit entries"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit entries are append-only")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_type}:{self.target_id}"


class ApiToken(models.Model):
    """A user's personal API token for scripts (`Authorization: Token ...`, orgs.auth). Stored
    hashed, shown once: a database dump or a read-only breach yields no usable token."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to recognise it by.")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"API token {self.prefix}… of user {self.user_id}"
