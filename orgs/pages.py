"""What every governance page shares: sign-in, the org from the URL (404 for outsiders), 403s
rendered in the page shell, pagination, and where to go back after a POST."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from orgs.models import Organization
from orgs.permissions import Action, resolve_org

PER_PAGE_CHOICES = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25


def forbidden(request: HttpRequest, reason: str, org: Organization | None = None, *, audited: bool = True) -> HttpResponse:
    return render(request, "orgs/forbidden.html", {"org": org, "reason": reason, "audited": audited}, status=403)


def org_view(action: Action | None = None) -> Callable:
    """Decorate a page under /o/<org_slug>/: sign-in required, then `view(request, org, **kwargs)`.

    `action` names the governance action the page attempts, so an outsider's attempt is audited
    (see `resolve_org`); a PermissionDenied raised by `authorize()` is answered 403 inside the
    normal page shell rather than Django's bare 403 page.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, org_slug: str, **kwargs) -> HttpResponse:
            org = resolve_org(request, org_slug, action=action)
            try:
                return view(request, org, **kwargs)
            except PermissionDenied as exc:
                return forbidden(request, str(exc), org)

        return wrapper

    return decorate


def paginate(request: HttpRequest, queryset) -> tuple[Page, int]:
    """The requested page of `queryset`, with `per_page` one of 10/25/50/100 (anything else: 25)."""
    try:
        per_page = int(request.GET.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        per_page = DEFAULT_PER_PAGE
    if per_page not in PER_PAGE_CHOICES:
        per_page = DEFAULT_PER_PAGE
    return Paginator(queryset, per_page).get_page(request.GET.get("page")), per_page


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Redirect to the form's `next` if it is a path on this site, else to `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)
