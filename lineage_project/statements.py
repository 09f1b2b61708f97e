"""How long a web request's SQL statements may run.

A request's statement that runs away (a plan gone wrong on statistics that predate a tenant, a
lock held too long) would otherwise keep a PostgreSQL backend busy long after the client and the
web server gave up on it. The web server's connections therefore open with PostgreSQL's
`statement_timeout` set to LINEAGE_WEB_STATEMENT_TIMEOUT_MS (lineage_project.wsgi, the one web entry
point, calls `limit_web_statements`); PostgreSQL cancels a statement that runs longer, and the request answers
503 with what happened (lineage_project.middleware; a statement cancelled sooner than the limit was
cancelled by someone else, and the request says that instead). Workers, beat and management commands do not
load the web entry point, so their statements (a drain, a rebuild, a migration) are not cut.

Exports stream from the web server but run statements of their own size: `unlimited_statements`
lifts the limit for the length of one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection

QUERY_CANCELED = "57014"  # SQLSTATE of a statement cancelled: by statement_timeout, an operator, a shutdown


def limit_web_statements() -> None:
    """Open this process's PostgreSQL connections with the web statement timeout: a startup
    option, so it costs no round trip. Call before the first request is served."""
    ms = settings.LINEAGE_WEB_STATEMENT_TIMEOUT_MS
    database = settings.DATABASES["default"]
    if not ms or database["ENGINE"] != "django.db.backends.postgresql":
        return
    options = database.setdefault("OPTIONS", {})
    # Appended, so that options given in DATABASE_URL (?options=...) are kept.
    options["options"] = f"{options.get('options', '')} -c statement_timeout={ms}".strip()


def is_query_canceled(exc: BaseException) -> bool:
    """Whether a database error is PostgreSQL cancelling a statement. The timeout shares its
    SQLSTATE with an operator's pg_cancel_backend and a shutdown: the caller tells them apart."""
    return getattr(exc.__cause__, "sqlstate", None) == QUERY_CANCELED


@contextmanager
def unlimited_statements() -> Iterator[None]:
    """Lift the statement timeout on this connection for the duration, then restore the
    connection's own (RESET returns to the value its startup options set)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")
        except DatabaseError:
            # Broken or in a failed transaction: never hand the next request an unlimited session.
            connection.close()
