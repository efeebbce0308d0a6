"""Browser smoke test: the account flow a new user goes through, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from studio.accounts.models import Membership, Role, User

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery-staple-42"


def test_sign_up_log_out_log_in_land_on_the_empty_studio(page):
    # First run: the login page points at sign-up.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_role("link", name="Create the first account").click()

    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    page.locator("input[name=username]").fill("dora")
    page.locator("input[name=email]").fill("dora@example.test")
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.get_by_role("button", name="Sign up", exact=True).click()

    expect(page.get_by_role("heading", name="dora's workspace")).to_be_visible()
    expect(page.get_by_text("No crews yet")).to_be_visible()
    user = User.objects.get(username="dora")
    assert Membership.objects.get(user=user, workspace__personal_for=user).role == Role.OWNER

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_text("Create the first account")).to_have_count(0)

    page.locator("input[name=username]").fill("dora")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".workspace")).to_have_text("dora's workspace")
    expect(page.get_by_text("No crews yet")).to_be_visible()

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
