"""A cloud's settings page: Platform services (the lineage tracking toggle and its history), owners,
projects, ingest keys. Parse, authorize, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from clouds.forms import GrantOwnerForm, IngestKeyForm
from clouds.models import Cloud, IngestKey, Project
from clouds.services import (
    create_ingest_key,
    grant_ownership,
    revoke_ingest_key,
    revoke_ownership,
    set_cloud_lineage,
)
from orgs.forms import SwitchForm
from orgs.models import Organization
from orgs.pages import org_view
from orgs.permissions import Action, Grants, authorize, get_in_org_or_404, request_id_of
from orgs.services import GovernanceError

HISTORY_SHOWN = 100


def _cloud(request: HttpRequest, org: Organization, cloud_id: int, action: Action | None = None) -> Cloud:
    return get_in_org_or_404(request, Cloud.objects.in_org(org).select_related("org"), org=org, action=action,
                             pk=cloud_id)


def _settings_url(cloud: Cloud, anchor: str = "") -> str:
    url = reverse("clouds:settings", kwargs={"org_slug": cloud.org.slug, "cloud_id": cloud.pk})
    return f"{url}#{anchor}" if anchor else url


def _render_settings(request: HttpRequest, org: Organization, cloud: Cloud, *, new_key: IngestKey | None = None,
                     new_secret: str = "") -> HttpResponse:
    grants = Grants.for_request(request, org)
    history = list(cloud.toggle_changes.order_by("-changed_at", "-id")[:HISTORY_SHOWN])
    can_manage_owners = grants.can(Action.OWNER_GRANT, cloud)
    response = render(request, "clouds/settings.html", {
        "org": org,
        "section": "settings",
        "cloud": cloud,
        # The newest change is the current state (never set means off), as Cloud.lineage_enabled says.
        "lineage_on": history[0].enabled if history else False,
        "history": history,
        "owners": list(cloud.owners.select_related("user").order_by("user__username")),
        "projects": Project.objects.in_org(org).filter(cloud=cloud),
        "keys": IngestKey.objects.in_org(org).filter(cloud=cloud).select_related("created_by"),
        "can_toggle": grants.can(Action.LINEAGE_TOGGLE, cloud),
        "can_manage_owners": can_manage_owners,
        "can_manage_keys": grants.can(Action.KEY_CREATE, cloud),
        "grant_form": GrantOwnerForm(org=org, cloud=cloud) if can_manage_owners else None,
        "key_form": IngestKeyForm(),
        "new_key": new_key,
        "new_secret": new_secret,
    })
    if new_secret:
        response["Cache-Control"] = "no-store"  # the page holds the secret: no back/forward or proxy copy
    return response


@org_view()
def cloud_settings(request: HttpRequest, org: Organization, cloud_id: int) -> HttpResponse:
    return _render_settings(request, org, _cloud(request, org, cloud_id))


@require_POST
@org_view(Action.LINEAGE_TOGGLE)
def set_lineage(request: HttpRequest, org: Organization, cloud_id: int) -> HttpResponse:
    cloud = _cloud(request, org, cloud_id, Action.LINEAGE_TOGGLE)
    form = SwitchForm(request.POST)
    valid = form.is_valid()
    authorize(request, Action.LINEAGE_TOGGLE, cloud, attempt={"enabled": form.cleaned_data["enabled"]} if valid else None)
    if not valid:
        messages.error(request, "Choose on or off.")
        return redirect(_settings_url(cloud, "lineage-tracking"))
    enabled = form.cleaned_data["enabled"]
    state = "on" if enabled else "off"
    if set_cloud_lineage(cloud=cloud, enabled=enabled, actor=request.user, request_id=request_id_of(request)):
        messages.success(request, f"Lineage tracking turned {state} for {cloud.name}.")
    else:
        messages.info(request, f"Lineage tracking was already {state} for {cloud.name}; nothing changed.")
    return redirect(_settings_url(cloud, "lineage-tracking"))


@require_POST
@org_view(Action.OWNER_GRANT)
def grant_owner(request: HttpRequest, org: Organization, cloud_id: int) -> HttpResponse:
    cloud = _cloud(request, org, cloud_id, Action.OWNER_GRANT)
    form = GrantOwnerForm(request.POST, org=org, cloud=cloud)
    valid = form.is_valid()
    authorize(request, Action.OWNER_GRANT, cloud,
              attempt={"owner": form.cleaned_data["user"].get_username()} if valid else None)
    if not valid:
        messages.error(request, "Choose a member of the organization who is not an owner yet.")
        return redirect(_settings_url(cloud, "owners"))
    user = form.cleaned_data["user"]
    try:
        grant_ownership(cloud=cloud, user=user, actor=request.user, request_id=request_id_of(request))
    except GovernanceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{user.get_username()} now owns {cloud.name}.")
    return redirect(_settings_url(cloud, "owners"))


@require_POST
@org_view(Action.OWNER_REVOKE)
def revoke_owner(request: HttpRequest, org: Organization, cloud_id: int, user_id: int) -> HttpResponse:
    cloud = _cloud(request, org, cloud_id, Action.OWNER_REVOKE)
    owner = get_in_org_or_404(request, cloud.owners.select_related("user", "cloud__org"), org=org,
                              action=Action.OWNER_REVOKE, user_id=user_id)
    authorize(request, Action.OWNER_REVOKE, owner, attempt={"owner": owner.user.get_username()})
    revoke_ownership(cloud=cloud, user=owner.user, actor=request.user, request_id=request_id_of(request))
    messages.success(request, f"{owner.user.get_username()} no longer owns {cloud.name}.")
    return redirect(_settings_url(cloud, "owners"))


@require_POST
@org_view(Action.KEY_CREATE)
def create_key(request: HttpRequest, org: Organization, cloud_id: int) -> HttpResponse:
    cloud = _cloud(request, org, cloud_id, Action.KEY_CREATE)
    form = IngestKeyForm(request.POST)
    valid = form.is_valid()
    authorize(request, Action.KEY_CREATE, cloud, attempt={"name": form.cleaned_data["name"]} if valid else None)
    if not valid:
        messages.error(request, "Give the key a name (at most 100 characters).")
        return redirect(_settings_url(cloud, "ingest-keys"))
    key, secret = create_ingest_key(cloud=cloud, name=form.cleaned_data["name"], actor=request.user,
                                    request_id=request_id_of(request))
    # Rendered, not redirected: the secret exists only in this response and is never stored in
    # clear (not even in the session, which a redirect would need).
    return _render_settings(request, org, cloud, new_key=key, new_secret=secret)


@require_POST
@org_view(Action.KEY_REVOKE)
def revoke_key(request: HttpRequest, org: Organization, cloud_id: int, key_id: int) -> HttpResponse:
    cloud = _cloud(request, org, cloud_id, Action.KEY_REVOKE)
    key = get_in_org_or_404(request, IngestKey.objects.in_org(org).filter(cloud=cloud).select_related("cloud__org"),
                            org=org, action=Action.KEY_REVOKE, pk=key_id)
    authorize(request, Action.KEY_REVOKE, key)
    if revoke_ingest_key(key=key, actor=request.user, request_id=request_id_of(request)):
        messages.success(request, f"Ingest key {key} revoked: requests using it are refused from now on.")
    else:
        messages.info(request, f"Ingest key {key} was already revoked.")
    return redirect(_settings_url(cloud, "ingest-keys"))
