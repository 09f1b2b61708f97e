from __future__ import annotations

import logging
import re
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from lineage_project.statements import is_statement_timeout

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id (the caller's X-Request-ID if it is sane) for logs and audit entries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class DatabaseUnavailableMiddleware:
    """Answer 503 instead of a 500 when the database cannot serve the request: unreachable (with
    Retry-After), or a statement cancelled by the web statement timeout (lineage_project.statements).

    Clients (the OpenLineage client among them) retry 503s and honour Retry-After, so an event
    sent while PostgreSQL restarts lands once it is back. Pages get the same answer as a page.
    """

    retry_after_seconds = 2

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        if is_statement_timeout(exception):
            seconds = settings.LINEAGE_WEB_STATEMENT_TIMEOUT_MS / 1000
            log.warning("statement cancelled after %gs on %s %s: %s", seconds, request.method, request.path, exception)
            return _unavailable(
                request, "statement_timeout",
                f"The database needed more than {seconds:g} s for this request and it was stopped. Narrow it "
                "(fewer filters matched, a smaller depth or range) or try again later; if it keeps happening, "
                f"give your administrator the request id {getattr(request, 'request_id', '')}.")
        log.warning("database unavailable: %s", exception)
        response = _unavailable(request, "service_unavailable", "The database is unavailable; retry shortly.")
        response["Retry-After"] = str(self.retry_after_seconds)
        return response


def _unavailable(request, error: str, detail: str) -> HttpResponse:
    if request.path.startswith("/api/") or "text/html" not in request.headers.get("Accept", ""):
        return JsonResponse({"error": error, "detail": detail}, status=503)
    # Rendered without the request: its context processors would ask the database for the user.
    return HttpResponse(render_to_string("503.html", {"detail": detail}), status=503)
