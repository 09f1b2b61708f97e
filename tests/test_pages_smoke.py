"""The shell every page shares: sign-in through the real form, in real Chromium."""

from __future__ import annotations

import pytest

from tests.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in_and_see_your_organizations(cast, page_as):
    page = page_as(cast["member"])
    assert page.locator("header .user").inner_text().startswith("member@acme.test")
    assert page.get_by_role("link", name="Acme").is_visible()
    assert not page.get_by_role("link", name="Globex").count()
    screenshot(page, "home-member")


def test_wrong_password_is_refused(cast, page_as):
    page = page_as()
    page.goto("/accounts/login/")
    page.fill("#id_username", "member@acme.test")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert "didn't match" in page.locator(".error").inner_text()
