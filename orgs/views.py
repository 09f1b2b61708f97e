"""Organization pages: settings (lineage beta, clouds, members), the audit log, platform staff's
organization list, and the personal API token page. Parse, authorize, call a service, render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from clouds.models import Cloud
from ingest.pipeline import backlog
from orgs.filters import AuditEntryFilterSet, OrganizationFilterSet
from orgs.forms import AddMemberForm, RoleForm, SwitchForm
from orgs.models import ApiToken, AuditEntry, Membership, Organization
from orgs.pages import PER_PAGE_CHOICES, forbidden, org_view, paginate, redirect_back
from orgs.permissions import Action, Grants, authorize, get_in_org_or_404, request_id_of
from orgs.services import (
    GovernanceError,
    add_member,
    change_role,
    create_api_token,
    remove_member,
    revoke_api_token,
    set_lineage_beta,
)


def _settings_url(org: Organization) -> str:
    return reverse("orgs:settings", kwargs={"org_slug": org.slug})


@org_view()
def settings_page(request: HttpRequest, org: Organization) -> HttpResponse:
    grants = Grants.for_request(request, org)
    clouds = Cloud.objects.in_org(org).with_lineage_state().annotate(
        owner_count=Count("owners", distinct=True), project_count=Count("projects", distinct=True)
    )
    members = Membership.objects.in_org(org).select_related("user").order_by("user__username")
    return render(request, "orgs/settings.html", {
        "org": org,
        "section": "settings",
        "clouds": clouds,
        "members": members,
        "can_set_beta": grants.can(Action.LINEAGE_BETA, org),
        "can_manage_members": grants.can(Action.MEMBER_SET, org),
        "role": grants.role,
        "add_form": AddMemberForm(),
        "role_choices": RoleForm.base_fields["role"].choices,
    })


@require_POST
@org_view(Action.LINEAGE_BETA)
def set_beta(request: HttpRequest, org: Organization) -> HttpResponse:
    form = SwitchForm(request.POST)
    valid = form.is_valid()
    authorize(request, Action.LINEAGE_BETA, org, attempt={"enabled": form.cleaned_data["enabled"]} if valid else None)
    if not valid:
        messages.error(request, "Choose on or off.")
        return redirect_back(request, _settings_url(org))
    enabled = form.cleaned_data["enabled"]
    changed = set_lineage_beta(org=org, enabled=enabled, actor=request.user, request_id=request_id_of(request))
    state = "enabled" if enabled else "disabled"
    if changed:
        messages.success(request, f"Lineage beta {state} for {org.name}.")
    else:
        messages.info(request, f"Lineage beta was already {state} for {org.name}; nothing changed.")
    return redirect_back(request, _settings_url(org))


@require_POST
@org_view(Action.MEMBER_SET)
def add_member_view(request: HttpRequest, org: Organization) -> HttpResponse:
    form = AddMemberForm(request.POST)
    authorize(request, Action.MEMBER_SET, org, attempt=form.attempt())
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{field}: {error}" if field != "__all__" else error)
        return redirect(_settings_url(org) + "#members")
    data = form.cleaned_data
    try:
        membership, created = add_member(org=org, email=data["email"], role=data["role"],
                                         password=data["password"] or None, actor=request.user,
                                         request_id=request_id_of(request))
    except GovernanceError as exc:
        messages.error(request, str(exc))
    else:
        account = "new account " if created else ""
        messages.success(request, f"Added {account}{membership.user.get_username()} as {membership.get_role_display()}.")
    return redirect(_settings_url(org) + "#members")


@require_POST
@org_view(Action.MEMBER_SET)
def change_role_view(request: HttpRequest, org: Organization, membership_id: int) -> HttpResponse:
    membership = get_in_org_or_404(request, Membership.objects.in_org(org).select_related("user", "org"), org=org,
                                   action=Action.MEMBER_SET, pk=membership_id)
    form = RoleForm(request.POST)
    valid = form.is_valid()
    authorize(request, Action.MEMBER_SET, membership, attempt={"role": form.cleaned_data["role"]} if valid else None)
    if not valid:
        messages.error(request, "Choose a role.")
    else:
        try:
            if change_role(membership=membership, role=form.cleaned_data["role"], actor=request.user,
                           request_id=request_id_of(request)):
                membership.refresh_from_db()
                messages.success(request, f"{membership.user.get_username()} is now {membership.get_role_display()}.")
        except GovernanceError as exc:
            messages.error(request, str(exc))
    return redirect(_settings_url(org) + "#members")


@require_POST
@org_view(Action.MEMBER_REMOVE)
def remove_member_view(request: HttpRequest, org: Organization, membership_id: int) -> HttpResponse:
    membership = get_in_org_or_404(request, Membership.objects.in_org(org).select_related("user", "org"), org=org,
                                   action=Action.MEMBER_REMOVE, pk=membership_id)
    authorize(request, Action.MEMBER_REMOVE, membership)
    try:
        remove_member(membership=membership, actor=request.user, request_id=request_id_of(request))
    except GovernanceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Removed {membership.user.get_username()} from {org.name}.")
    return redirect(_settings_url(org) + "#members")


@org_view(Action.AUDIT_VIEW)
def audit_log(request: HttpRequest, org: Organization) -> HttpResponse:
    authorize(request, Action.AUDIT_VIEW, org)
    entries = AuditEntry.objects.in_org(org)
    filterset = AuditEntryFilterSet(request.GET, queryset=entries, request=request, org=org)
    valid = filterset.is_valid()
    page, per_page = paginate(request, filterset.qs if valid else entries.none())
    actions = entries.order_by("action").values_list("action", flat=True).distinct()
    filterset.form.fields["action"].widget = forms.Select(choices=[("", "Any action"), *((a, a) for a in actions)])
    clouds = dict(Cloud.objects.in_org(org).values_list("pk", "name"))
    for entry in page:
        entry.cloud_name = clouds.get(entry.cloud_id, "")
    return render(request, "orgs/audit_log.html", {
        "org": org, "section": "audit", "filterset": filterset, "page": page, "per_page": per_page,
        "per_page_choices": PER_PAGE_CHOICES,
    })


@login_required
def staff_org_list(request: HttpRequest) -> HttpResponse:
    """Platform staff's organizations list: search, filter, switch any org's lineage beta, and see
    each one's normalization backlog (what `manage.py pipeline status` shows)."""
    if not request.user.is_staff:
        return forbidden(request, "Only platform staff can list every organization.", audited=False)
    orgs = Organization.objects.for_user(request.user).annotate(
        member_count=Count("memberships", distinct=True), cloud_count=Count("clouds", distinct=True),
        admin_count=Count("memberships", filter=Q(memberships__role="admin"), distinct=True),
    ).order_by("name")
    filterset = OrganizationFilterSet(request.GET, queryset=orgs, request=request)
    valid = filterset.is_valid()
    page, per_page = paginate(request, filterset.qs if valid else orgs.none())
    # Each listed organization's normalization backlog: events waiting, and parked for an operator.
    backlogs = {b.org_id: b for b in backlog(org_ids=[o.pk for o in page])}
    for org in page:
        org.backlog = backlogs.get(org.pk)
    return render(request, "orgs/staff_org_list.html", {
        "filterset": filterset, "page": page, "per_page": per_page, "per_page_choices": PER_PAGE_CHOICES,
    })


@login_required
def api_token(request: HttpRequest) -> HttpResponse:
    """The signed-in user's personal API token for scripts: created (shown once) or revoked."""
    context: dict = {}
    if request.method == "POST":
        if request.POST.get("op") == "create":
            try:
                context["new_token"] = create_api_token(user=request.user, request_id=request_id_of(request))
            except GovernanceError as exc:
                messages.error(request, str(exc))
        elif request.POST.get("op") == "revoke":
            if revoke_api_token(user=request.user, request_id=request_id_of(request)):
                messages.success(request, "Your API token was revoked; scripts using it are refused from now on.")
            return redirect("orgs-site:api_token")
    token = ApiToken.objects.filter(user=request.user).first()
    context["token_created"] = token.created_at if token else None
    context["token_prefix"] = token.prefix if token else ""
    response = render(request, "orgs/api_token.html", context)
    if "new_token" in context:
        response["Cache-Control"] = "no-store"  # the page holds the secret: no back/forward or proxy copy
    return response
