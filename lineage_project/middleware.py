from __future__ import annotations

import logging
import re
import time
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from lineage_project.statements import is_query_canceled

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
    Retry-After), a statement cancelled by the web statement timeout (lineage_project.statements),
    or one cancelled sooner by someone else (with Retry-After: nothing was wrong with the request).

    Clients (the OpenLineage client among them) retry 503s and honour Retry-After, so an event
    sent while PostgreSQL restarts lands once it is back. Pages get the same answer as a page.
    """

    retry_after_seconds = 2

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.started_monotonic = time.monotonic()
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        if is_query_canceled(exception):
            limit = settings.LINEAGE_WEB_STATEMENT_TIMEOUT_MS / 1000
            # A request that has not run as long as the limit cannot have met it: someone else
            # (an operator's pg_cancel_backend, a shutting-down server) stopped its statement.
            if limit and time.monotonic() - getattr(request, "started_monotonic", 0.0) >= limit:
                log.warning("statement cancelled after %gs on %s %s: %s", limit, request.method, request.path, exception)
                return _unavailable(
                    request, "statement_timeout",
                    f"The database needed more than {limit:g} s for this request and it was stopped. Narrow it "
                    "(fewer filters matched, a smaller depth or range) or try again later; if it keeps happening, "
                    f"give your administrator the request id {getattr(request, 'request_id', '')}.")
            log.warning("statement cancelled by the database on %s %s: %s", request.method, request.path, exception)
            return self._retry_shortly(request, "query_canceled", "The database cancelled this request's query before "
                                       "it finished (an administrator stopped it, or the server is shutting down); "
                                       "retry shortly.")
        log.warning("database unavailable: %s", exception)
        return self._retry_shortly(request, "service_unavailable", "The database is unavailable; retry shortly.")

    def _retry_shortly(self, request, error: str, detail: str) -> HttpResponse:
        response = _unavailable(request, error, detail)
        response["Retry-After"] = str(self.retry_after_seconds)
        return response


def _unavailable(request, error: str, detail: str) -> HttpResponse:
    if request.path.startswith("/api/") or "text/html" not in request.headers.get("Accept", ""):
        return JsonResponse({"error": error, "detail": detail}, status=503)
    # Rendered without the request: its context processors would ask the database for the user.
    return HttpResponse(render_to_string("503.html", {"detail": detail}), status=503)
