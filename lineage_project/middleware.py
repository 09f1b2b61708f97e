from __future__ import annotations

import logging
import re
import uuid

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

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
    """Answer 503 with Retry-After when the database cannot be reached, instead of a 500.

    Clients (the OpenLineage client among them) retry 503s and honour Retry-After, so an event
    sent while PostgreSQL restarts lands once it is back.
    """

    retry_after_seconds = 2

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError):
            log.warning("database unavailable: %s", exception)
            response = JsonResponse(
                {"error": "service_unavailable", "detail": "The database is unavailable; retry shortly."},
                status=503,
            )
            response["Retry-After"] = str(self.retry_after_seconds)
            return response
        return None
