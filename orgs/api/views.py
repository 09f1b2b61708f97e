"""Governance API under /api/v1/o/<org_slug>/: the lineage beta, members and roles, the audit log.

Same rules as the pages: the org comes from the URL through `resolve_org` (404 for outsiders),
changes go through `authorize()` (403, audited) and then one service call.
"""

from __future__ import annotations

from functools import cached_property

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from orgs.api.serializers import (
    AuditEntrySerializer,
    MemberCreateSerializer,
    MembershipSerializer,
    OrganizationSerializer,
    RoleSerializer,
    SwitchResultSerializer,
    SwitchSerializer,
)
from orgs.filters import AuditEntryFilterSet, OrganizationFilterSet
from orgs.models import AuditEntry, Membership, Organization
from orgs.pages import DEFAULT_PER_PAGE, PER_PAGE_CHOICES
from orgs.permissions import Action, authorize, get_in_org_or_404, request_id_of, resolve_org
from orgs.services import GovernanceError, add_member, change_role, remove_member, set_lineage_beta


class PerPagePagination(PageNumberPagination):
    """`page` and `per_page` (10/25/50/100), as on the pages."""

    page_size = DEFAULT_PER_PAGE
    page_size_query_param = "per_page"
    max_page_size = max(PER_PAGE_CHOICES)


class OrgFilterBackend(DjangoFilterBackend):
    """Hands the view's org to the FilterSet, so its choices (clouds) are that org's only."""

    def get_filterset_kwargs(self, request, queryset, view):
        return {**super().get_filterset_kwargs(request, queryset, view), "org": view.org}


class OrgScopedMixin:
    """The org from the URL, resolved once per request before the handler runs.

    `actions` maps an HTTP method to the governance action it attempts, so an outsider's attempt
    is audited (`resolve_org`) and `self.authorize(obj)` knows what to check.
    """

    actions: dict[str, Action] = {}
    pagination_class = PerPagePagination

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication first: anonymous is 401/403, never 404
        self.org  # noqa: B018  (resolve now: 404 before any handler work)

    @cached_property
    def org(self) -> Organization:
        return resolve_org(self.request, self.kwargs["org_slug"], action=self.actions.get(self.request.method))

    @property
    def action_attempted(self) -> Action:
        return self.actions[self.request.method]

    def authorize(self, obj, attempt: dict | None = None) -> None:
        authorize(self.request, self.action_attempted, obj, attempt=attempt)

    def get_in_org_or_404(self, queryset, **lookup):
        return get_in_org_or_404(self.request, queryset, org=self.org, action=self.actions.get(self.request.method),
                                 **lookup)

    @property
    def request_id(self) -> str:
        return request_id_of(self.request)


def validated_or_none(serializer) -> dict | None:
    return dict(serializer.validated_data) if serializer.is_valid() else None


def raise_if_invalid(serializer) -> None:
    if serializer.errors:
        raise ValidationError(serializer.errors)


class OrganizationListView(generics.ListAPIView):
    """GET /api/v1/orgs/: the organizations you can see (platform staff: all), with the staff list's filters."""

    serializer_class = OrganizationSerializer
    filterset_class = OrganizationFilterSet
    pagination_class = PerPagePagination

    def get_queryset(self):
        return Organization.objects.for_user(self.request.user).distinct().order_by("name")


class LineageBetaView(OrgScopedMixin, APIView):
    """GET/PUT /api/v1/o/<org>/lineage-beta/: `{"enabled": true|false}`. While off, no lineage is
    accepted for any cloud of the org. PUT needs org admin or platform staff; idempotent."""

    actions = {"PUT": Action.LINEAGE_BETA}
    serializer_class = SwitchResultSerializer

    def get(self, request, org_slug):
        return Response({"enabled": self.org.lineage_beta_enabled})

    def put(self, request, org_slug):
        serializer = SwitchSerializer(data=request.data)
        self.authorize(self.org, attempt=validated_or_none(serializer))
        raise_if_invalid(serializer)
        enabled = serializer.validated_data["enabled"]
        changed = set_lineage_beta(org=self.org, enabled=enabled, actor=request.user, request_id=self.request_id)
        return Response({"enabled": enabled, "changed": changed})


class MembershipListView(OrgScopedMixin, generics.ListCreateAPIView):
    """GET: the org's members and roles (any member). POST `{email, role, password?}` (org admin):
    add an existing user, or create the account; 201 with the membership."""

    queryset = Membership.objects.none()  # for the OpenAPI schema only; get_queryset() scopes
    actions = {"POST": Action.MEMBER_SET}
    serializer_class = MembershipSerializer

    def get_queryset(self):
        return Membership.objects.in_org(self.org).select_related("user").order_by("user__username")

    def create(self, request, org_slug):
        serializer = MemberCreateSerializer(data=request.data)
        valid = serializer.is_valid()
        attempt = {"email": serializer.validated_data["email"], "role": serializer.validated_data["role"]} if valid else None
        self.authorize(self.org, attempt=attempt)
        raise_if_invalid(serializer)
        data = serializer.validated_data
        try:
            membership, _ = add_member(org=self.org, email=data["email"], role=data["role"],
                                       password=data.get("password") or None, actor=request.user,
                                       request_id=self.request_id)
        except GovernanceError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MembershipDetailView(OrgScopedMixin, APIView):
    """GET one membership; PATCH `{role}` to change the role; DELETE to remove the member (and their
    ownership of the org's clouds). The last org admin can be neither demoted nor removed (400)."""

    actions = {"PATCH": Action.MEMBER_SET, "PUT": Action.MEMBER_SET, "DELETE": Action.MEMBER_REMOVE}
    serializer_class = MembershipSerializer

    def get_membership(self, pk: int) -> Membership:
        return self.get_in_org_or_404(Membership.objects.in_org(self.org).select_related("user", "org"), pk=pk)

    def get(self, request, org_slug, pk):
        return Response(MembershipSerializer(self.get_membership(pk)).data)

    def patch(self, request, org_slug, pk):
        membership = self.get_membership(pk)
        serializer = RoleSerializer(data=request.data)
        self.authorize(membership, attempt=validated_or_none(serializer))
        raise_if_invalid(serializer)
        try:
            change_role(membership=membership, role=serializer.validated_data["role"], actor=request.user,
                        request_id=self.request_id)
        except GovernanceError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        membership.refresh_from_db()
        return Response(MembershipSerializer(membership).data)

    put = patch

    def delete(self, request, org_slug, pk):
        membership = self.get_membership(pk)
        self.authorize(membership)
        try:
            remove_member(membership=membership, actor=request.user, request_id=self.request_id)
        except GovernanceError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEntryListView(OrgScopedMixin, generics.ListAPIView):
    """GET /api/v1/o/<org>/audit/: the org's audit log, newest first, with the page's filters
    (actor, action, target, cloud, outcome, created_after, created_before). Auditors and org admins."""

    queryset = AuditEntry.objects.none()  # for the OpenAPI schema only; get_queryset() scopes
    actions = {"GET": Action.AUDIT_VIEW}
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    filter_backends = [OrgFilterBackend]

    def get_queryset(self):
        return AuditEntry.objects.in_org(self.org)

    def list(self, request, *args, **kwargs):
        self.authorize(self.org)
        return super().list(request, *args, **kwargs)
