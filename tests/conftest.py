"""The fixed cast (org admin, cloud owner, member, auditor, outsider) and factories.

Tests marked `services` need real PostgreSQL and Redis. With LINEAGE_REQUIRE_SERVICES=1 (set by
`make test-services`, hence in CI) they run and fail if a service is missing; without it, on the
embedded defaults, they are reported as skipped with the reason, never silently passed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, TestCase
from django.utils import timezone

from clouds.models import Cloud
from clouds.services import (
    create_cloud,
    create_ingest_key,
    create_project,
    grant_ownership,
    set_cloud_lineage,
)
from orgs.models import Organization, Role
from orgs.services import create_org, ensure_user, set_lineage_beta, set_membership

SHARED = Path(__file__).resolve().parents[2] / "shared" / "openlineage"
if not SHARED.is_dir():  # CI clones next to shared/; a checkout elsewhere can point at it
    SHARED = Path(os.environ.get("LINEAGE_SHARED_DIR", "../shared")) / "openlineage"


def pytest_collection_modifyitems(config, items):
    if os.environ.get("LINEAGE_REQUIRE_SERVICES") == "1":
        return
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine.endswith("postgresql") and settings.CELERY_BROKER_URL:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL and Redis: run `make test-services` (CI always does)")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _eager_celery_outside_service_tests(request):
    """The fast layer runs tasks in-process even when a broker is configured; only `services`
    tests talk to a real broker and worker, except those marked `eager` (PostgreSQL only)."""
    from lineage_project.celery import app

    if "services" in request.keywords and "eager" not in request.keywords:
        yield
        return
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.fixture(autouse=True)
def _fresh_ingest_caches():
    """Ingest's in-process memos (ingest.services) hold facts about rows each test rolls back."""
    from ingest.services import reset_caches

    reset_caches()
    yield
    reset_caches()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs ~0.4 s per user created; the tests are not about it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Tenant:
    org: Organization
    cloud: Cloud
    other_cloud: Cloud
    key: str  # ingest key secret of `cloud`
    other_key: str  # ingest key secret of `other_cloud`

    def client_for(self, user) -> Client:
        c = Client()
        c.force_login(user)
        return c


def make_tenant(slug: str, *, beta: bool = True, toggle_on_since: timedelta | None = timedelta(days=30)) -> Tenant:
    org, _ = create_org(slug=slug, name=slug.title())
    if beta:
        set_lineage_beta(org=org, enabled=True)
    cloud, _ = create_cloud(org=org, name=f"{slug}-prod")
    other, _ = create_cloud(org=org, name=f"{slug}-dev")
    create_project(cloud=cloud, name="training", public_id=f"prj_{slug}_training")
    if toggle_on_since is not None:
        for c in (cloud, other):
            set_cloud_lineage(cloud=c, enabled=True, at=timezone.now() - toggle_on_since)
    _, key = create_ingest_key(cloud=cloud, name="test")
    _, other_key = create_ingest_key(cloud=other, name="test")
    return Tenant(org=org, cloud=cloud, other_cloud=other, key=key, other_key=other_key)


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant("acme")


@pytest.fixture
def outsider_tenant(db) -> Tenant:
    return make_tenant("globex")


@pytest.fixture
def cast(tenant, outsider_tenant):
    """Users of every role in `tenant`, and an outsider who belongs only to `outsider_tenant`."""
    users = {}
    for name, role in (("admin", Role.ADMIN), ("owner", Role.MEMBER), ("member", Role.MEMBER), ("auditor", Role.AUDITOR)):
        user, _ = ensure_user(email=f"{name}@acme.test", password="pw-not-secret-123")
        set_membership(org=tenant.org, user=user, role=role)
        users[name] = user
    grant_ownership(cloud=tenant.cloud, user=users["owner"])
    outsider, _ = ensure_user(email="outsider@globex.test", password="pw-not-secret-123")
    set_membership(org=outsider_tenant.org, user=outsider, role=Role.ADMIN)
    users["outsider"] = outsider
    staff, _ = ensure_user(email="staff@platform.test", password="pw-not-secret-123", is_staff=True)
    users["staff"] = staff
    return users


def post_event(client: Client, key: str, event, *, path: str = "/api/v1/lineage", **extra):
    """POST like the OpenLineage client does; on-commit hooks (the enqueue) run as after a real commit,
    and the process's drain scheduler (ingest.scheduling) has acted on them when this returns."""
    from ingest import scheduling

    body = event if isinstance(event, bytes | str) else json.dumps(event)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}",
                               **extra)
    scheduling.flush()
    return response


# --- Browser ---------------------------------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright (`make browser` installs it)."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls tests make around it
    # are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_as(chromium, live_server):
    """page_as(user) -> a Playwright page signed in as that user through the real login form.

    The test fails if any page it opened threw an uncaught script error or logged a console error (a
    script, stylesheet, icon or API call that failed), unless the test says which it expects with
    `page.expected_console_errors` (substrings). A page the test navigated to may answer 403 or 404
    (tests check those pages themselves): only what that page loads or runs counts."""
    contexts, pages = [], []

    def open_page(user=None):
        context = chromium.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.console_errors, page.expected_console_errors, navigated = [], [], set()
        page.on("request", lambda request: request.is_navigation_request() and navigated.add(request.url))
        page.on("console", lambda message: message.type == "error" and not (
            message.text.startswith("Failed to load resource") and message.location.get("url") in navigated)
            and page.console_errors.append(f"{message.text} ({message.location.get('url')})"))
        page.on("pageerror", lambda error: page.console_errors.append(f"uncaught: {error}"))
        pages.append(page)
        if user is not None:
            page.goto("/accounts/login/")
            page.fill("#id_username", user.get_username())
            page.fill("#id_password", "pw-not-secret-123")
            page.click("button[type=submit]")
            page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_page
    for context in contexts:
        context.close()
    unexpected = [error for page in pages for error in page.console_errors
                  if not any(expected in error for expected in page.expected_console_errors)]
    assert not unexpected, f"the browser reported errors: {unexpected}"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (CI keeps the folder)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
