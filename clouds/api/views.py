"""Cloud governance API under /api/v1/o/<org_slug>/clouds/: the lineage toggle and its history,
owners, projects, ingest keys. Same rules and services as the cloud settings page."""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth import get_user_model
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from clouds.api.serializers import (
    CloudOwnerSerializer,
    CloudSerializer,
    IngestKeyCreatedSerializer,
    IngestKeyCreateSerializer,
    IngestKeySerializer,
    OwnerGrantSerializer,
    ProjectSerializer,
    ToggleChangeSerializer,
)
from clouds.models import Cloud, CloudOwner, IngestKey, LineageToggleChange, Project
from clouds.services import (
    create_ingest_key,
    grant_ownership,
    revoke_ingest_key,
    revoke_ownership,
    set_cloud_lineage,
)
from orgs.api.serializers import SwitchResultSerializer, SwitchSerializer
from orgs.api.views import OrgScopedMixin, raise_if_invalid, validated_or_none
from orgs.models import Membership
from orgs.permissions import Action
from orgs.services import GovernanceError


class CloudScopedMixin(OrgScopedMixin):
    """The cloud from the URL, within the org from the URL (404 otherwise, audited for writes)."""

    @cached_property
    def cloud(self) -> Cloud:
        return self.get_in_org_or_404(Cloud.objects.in_org(self.org).select_related("org").with_lineage_state(),
                                      pk=self.kwargs["cloud_id"])


class CloudListView(OrgScopedMixin, generics.ListAPIView):
    """GET: the org's clouds with their lineage tracking state."""

    queryset = Cloud.objects.none()  # for the OpenAPI schema only; get_queryset() scopes
    serializer_class = CloudSerializer

    def get_queryset(self):
        return Cloud.objects.in_org(self.org).with_lineage_state()


class CloudDetailView(CloudScopedMixin, APIView):
    serializer_class = CloudSerializer

    def get(self, request, org_slug, cloud_id):
        return Response(CloudSerializer(self.cloud).data)


class CloudLineageView(CloudScopedMixin, APIView):
    """GET/PUT `{"enabled": true|false}`: the cloud's lineage tracking toggle. PUT is for the cloud's
    owners (and platform staff); idempotent (`changed` is false when it was already so). Turning it on
    does not capture clusters already running; turning it off keeps capturing running clusters."""

    actions = {"PUT": Action.LINEAGE_TOGGLE}
    serializer_class = SwitchResultSerializer

    def get(self, request, org_slug, cloud_id):
        return Response({"enabled": self.cloud.lineage_on})

    def put(self, request, org_slug, cloud_id):
        serializer = SwitchSerializer(data=request.data)
        self.authorize(self.cloud, attempt=validated_or_none(serializer))
        raise_if_invalid(serializer)
        enabled = serializer.validated_data["enabled"]
        changed = set_cloud_lineage(cloud=self.cloud, enabled=enabled, actor=request.user, request_id=self.request_id)
        return Response({"enabled": enabled, "changed": changed})


class ToggleHistoryView(CloudScopedMixin, generics.ListAPIView):
    """GET: the toggle's history, newest first (who, when, on or off)."""

    queryset = LineageToggleChange.objects.none()  # for the OpenAPI schema only; get_queryset() scopes
    serializer_class = ToggleChangeSerializer

    def get_queryset(self):
        return self.cloud.toggle_changes.order_by("-changed_at", "-id")


class CloudOwnerListView(CloudScopedMixin, generics.ListCreateAPIView):
    """GET: the cloud's owners. POST `{"email": ...}` (org admin): make a member of the org an owner."""

    queryset = CloudOwner.objects.none()  # for the OpenAPI schema only; get_queryset() scopes
    actions = {"POST": Action.OWNER_GRANT}
    serializer_class = CloudOwnerSerializer
    pagination_class = None

    def get_queryset(self):
        return self.cloud.owners.select_related("user").order_by("user__username")

    def create(self, request, org_slug, cloud_id):
        serializer = OwnerGrantSerializer(data=request.data)
        self.authorize(self.cloud, attempt=validated_or_none(serializer))
        raise_if_invalid(serializer)
        email = serializer.validated_data["email"]
        # Only the org's members are candidates: an email outside the org is "not a member", whether
        # or not an account exists elsewhere.
        member_ids = Membership.objects.in_org(self.org).values("user")
        user = get_user_model().objects.filter(pk__in=member_ids, username__iexact=email).first()
        if user is None:
            raise ValidationError({"email": f"{email} is not a member of the organization."})
        try:
            grant_ownership(cloud=self.cloud, user=user, actor=request.user, request_id=self.request_id)
        except GovernanceError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        owner = self.cloud.owners.select_related("user").get(user=user)
        return Response(CloudOwnerSerializer(owner).data, status=status.HTTP_201_CREATED)


class CloudOwnerDetailView(CloudScopedMixin, APIView):
    """DELETE: remove an owner (org admin)."""

    actions = {"DELETE": Action.OWNER_REVOKE}
    serializer_class = CloudOwnerSerializer

    def delete(self, request, org_slug, cloud_id, user_id):
        owner = self.get_in_org_or_404(self.cloud.owners.select_related("user", "cloud__org"), user_id=user_id)
        self.authorize(owner, attempt={"owner": owner.user.get_username()})
        revoke_ownership(cloud=self.cloud, user=owner.user, actor=request.user, request_id=self.request_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectListView(CloudScopedMixin, generics.ListAPIView):

    queryset = Project.objects.none()  # for the OpenAPI schema only; get_queryset() scopes
    serializer_class = ProjectSerializer

    def get_queryset(self):
        return Project.objects.in_org(self.org).filter(cloud=self.cloud)


class IngestKeyListView(CloudScopedMixin, generics.ListCreateAPIView):
    """GET: the cloud's ingest keys (prefix, last used, revoked; never the secret). POST `{"name"}`
    (org admin or cloud owner): 201 with the key, including the secret `key`, this once."""

    queryset = IngestKey.objects.none()  # for the OpenAPI schema only; get_queryset() scopes
    actions = {"POST": Action.KEY_CREATE}
    serializer_class = IngestKeySerializer

    def get_queryset(self):
        return IngestKey.objects.in_org(self.org).filter(cloud=self.cloud).select_related("created_by")

    def create(self, request, org_slug, cloud_id):
        serializer = IngestKeyCreateSerializer(data=request.data)
        self.authorize(self.cloud, attempt=validated_or_none(serializer))
        raise_if_invalid(serializer)
        key, secret = create_ingest_key(cloud=self.cloud, name=serializer.validated_data["name"], actor=request.user,
                                        request_id=self.request_id)
        key.key = secret
        response = Response(IngestKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class IngestKeyDetailView(CloudScopedMixin, APIView):
    serializer_class = IngestKeySerializer

    def get(self, request, org_slug, cloud_id, key_id):
        key = self.get_in_org_or_404(IngestKey.objects.in_org(self.org).filter(cloud=self.cloud), pk=key_id)
        return Response(IngestKeySerializer(key).data)


class IngestKeyRevokeView(CloudScopedMixin, APIView):
    """POST (org admin or cloud owner): revoke the key; ingest refuses it from the next request on.
    Idempotent: revoking a revoked key answers 200 with `changed: false`."""

    actions = {"POST": Action.KEY_REVOKE}
    serializer_class = IngestKeySerializer

    def post(self, request, org_slug, cloud_id, key_id):
        key = self.get_in_org_or_404(
            IngestKey.objects.in_org(self.org).filter(cloud=self.cloud).select_related("cloud__org", "created_by"),
            pk=key_id,
        )
        self.authorize(key)
        changed = revoke_ingest_key(key=key, actor=request.user, request_id=self.request_id)
        key.refresh_from_db()
        return Response({**IngestKeySerializer(key).data, "changed": changed})
