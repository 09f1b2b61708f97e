"""A web request's statement that runs too long is cancelled by PostgreSQL and the request says
so with a 503, on the API and on pages; the connection serves the next request; exports, which
read whole tables, are not cut.

The application runs as gunicorn in a subprocess (the web server is what applies the limit,
lineage_project.statements) with LINEAGE_WEB_STATEMENT_TIMEOUT_MS=1000. A statement is made to run
long the way a production one would wait: another session holds a lock on the table it reads.
"""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from contextlib import contextmanager

import psycopg
import pytest
import requests
from django.db import connection
from django.test import override_settings

from orgs.models import Role
from orgs.services import create_api_token, ensure_user, set_membership
from tests.conftest import make_tenant
from tests.e2e.support import free_port, start_gunicorn, subprocess_database_url, wait_until_serving

pytestmark = pytest.mark.services

TIMEOUT_MS = 1000
PASSWORD = "pw-not-secret-123"


@contextmanager
def table_locked(table: str, *, release_after: float | None = None):
    """Hold an ACCESS EXCLUSIVE lock on `table` from another session (until the block ends, or
    for `release_after` seconds); every statement that reads the table waits for it."""
    with psycopg.connect(subprocess_database_url()) as locker:
        locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        timer = threading.Timer(release_after, locker.rollback) if release_after else None
        if timer:
            timer.start()
        try:
            yield
        finally:
            if timer:
                timer.join()
            else:
                locker.rollback()


def _waiting_on_locks() -> list[int]:
    """Backends of the test database waiting for a lock (a cancelled statement no longer is)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                       " AND wait_event_type = 'Lock'")
        return [row[0] for row in cursor.fetchall()]


def _serve(processes, tmp_path, *args: str, timeout_ms: int = TIMEOUT_MS) -> str:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = processes.add(start_gunicorn(
        port=port, database_url=subprocess_database_url(), broker_url="", log_path=tmp_path / "gunicorn.log",
        access_log=tmp_path / "access.log", args=args, LINEAGE_WEB_STATEMENT_TIMEOUT_MS=str(timeout_ms)))

    wait_until_serving(base, proc)
    return base


@pytest.fixture
def server(processes, tmp_path):
    return _serve(processes, tmp_path)


def _signed_in(base: str, user) -> requests.Session:
    # The tests hash passwords with MD5 for speed; the server only knows its own hashers.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    response = session.post(f"{base}/accounts/login/", timeout=10, allow_redirects=False, headers={"Referer": base},
                            data={"username": user.email, "password": PASSWORD,
                                  "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    assert response.status_code == 302, response.text[:500]
    return session


def test_a_statement_past_the_web_limit_is_cancelled_and_answered_503(server):
    tenant = make_tenant("slowdb")
    user, _ = ensure_user(email="member@slowdb.test", password=PASSWORD)
    set_membership(org=tenant.org, user=user, role=Role.MEMBER)
    token = create_api_token(user=user)
    api = f"{server}/api/v1/o/slowdb/datasets/"
    auth = {"Authorization": f"Token {token}"}
    assert requests.get(api, headers=auth, timeout=10).status_code == 200
    page = _signed_in(server, user)

    with table_locked("catalog_asset"):
        started = time.monotonic()
        response = requests.get(api, headers=auth, timeout=30)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text[:1000]
        body = response.json()
        assert body["error"] == "statement_timeout"
        assert "more than 1 s" in body["detail"] and "Narrow it" in body["detail"]
        # Cancelled at the limit, not when gunicorn's worker timeout (30 s) gave up on it.
        assert TIMEOUT_MS / 1000 <= elapsed < 10, elapsed
        # PostgreSQL stopped the statement: nothing of the server's waits on the lock any more.
        assert _waiting_on_locks() == []

        html = page.get(f"{server}/o/slowdb/datasets/", headers={"Accept": "text/html"}, timeout=30)
        assert html.status_code == 503
        assert html.headers["Content-Type"].startswith("text/html")
        assert "This page is unavailable right now" in html.text and "more than 1 s" in html.text

    # The same (persistent) connections serve the next requests.
    assert requests.get(api, headers=auth, timeout=10).status_code == 200
    assert page.get(f"{server}/o/slowdb/datasets/", timeout=10).status_code == 200


def test_a_statement_cancelled_sooner_by_an_operator_is_not_called_a_timeout(processes, tmp_path):
    server = _serve(processes, tmp_path, timeout_ms=20_000)
    tenant = make_tenant("cancelled")
    user, _ = ensure_user(email="member@cancelled.test", password=PASSWORD)
    set_membership(org=tenant.org, user=user, role=Role.MEMBER)
    token = create_api_token(user=user)
    answers = []

    with table_locked("catalog_asset"):
        request = threading.Thread(target=lambda: answers.append(requests.get(
            f"{server}/api/v1/o/cancelled/datasets/", headers={"Authorization": f"Token {token}"}, timeout=30)))
        started = time.monotonic()
        request.start()
        while not (waiting := _waiting_on_locks()):
            assert time.monotonic() - started < 10, "the request never reached the locked table"
            time.sleep(0.05)
        with connection.cursor() as cursor:  # what an administrator does to a query they want gone
            cursor.execute("SELECT pg_cancel_backend(%s)", waiting)
        request.join(timeout=30)
        elapsed = time.monotonic() - started

    response = answers[0]
    assert response.status_code == 503, response.text[:1000]
    assert response.json()["error"] == "query_canceled"
    assert "cancelled this request's query" in response.json()["detail"]
    assert response.headers["Retry-After"] == "2"  # a retry will do: nothing was wrong with the request
    assert elapsed < 10, elapsed


def test_an_export_waits_past_the_web_limit_and_the_worker_timeout_and_completes(processes, tmp_path):
    # gunicorn restarts a worker silent for longer than its timeout; a long export must not count
    # as silence (the production configuration's threaded workers keep reporting while it streams).
    server = _serve(processes, tmp_path, "--timeout", "2")
    tenant = make_tenant("slowexport")
    auditor, _ = ensure_user(email="auditor@slowexport.test", password=PASSWORD)
    set_membership(org=tenant.org, user=auditor, role=Role.AUDITOR)
    token = create_api_token(user=auditor)

    # The export's lineage statement waits 3.5 s for the lock: past the statement limit (1 s) and
    # the worker timeout (2 s).
    with table_locked("catalog_runasset", release_after=3.5):
        started = time.monotonic()
        response = requests.post(f"{server}/api/v1/o/slowexport/exports/", json={"kind": "lineage"},
                                 headers={"Authorization": f"Token {token}"}, timeout=60)
        body = response.content
        elapsed = time.monotonic() - started
    assert response.status_code == 200, body[:1000]
    assert elapsed >= 3.0, elapsed
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        names = zf.namelist()
        assert "manifest.json" in names and any(re.match(r"lineage", n) for n in names), names

    # The export's connection got its limit back: the next request on it is limited again.
    with table_locked("catalog_asset"):
        response = requests.get(f"{server}/api/v1/o/slowexport/datasets/", headers={"Authorization": f"Token {token}"},
                                timeout=30)
        assert response.status_code == 503 and response.json()["error"] == "statement_timeout"
