"""Playwright (sync API) driving the system Chromium against ``live_server``.

Never downloads browsers: the tests use /usr/bin/chromium or skip.
"""

import os
from pathlib import Path

import pytest

from ..factories import PASSWORD

# Playwright's sync API runs an event loop in this thread; Django refuses ORM
# calls from a thread with a running loop unless told it is safe (it is: the
# loop only talks to the browser).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SKIP_REASON = f"browser tests need Chromium at {CHROMIUM} (never downloaded by the suite)"


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(SKIP_REASON)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh context (no cookies) per test."""
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


# Viewport sizes the journeys use (keep a test's size when moving it between them).
LAPTOP = {"width": 1366, "height": 768}
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(params=[LAPTOP, PHONE], ids=["laptop", "phone"])
def screen(request, browser):
    """A page in a fresh context at a laptop's and at a phone's size.

    A module wanting other sizes parametrises ``screen`` itself, with
    ``indirect=True`` and the viewports as values.
    """
    context = browser.new_context(locale="en-GB", viewport=request.param)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sign_in(live_server):
    """Signs in through the sign-in form, as a person does (the data's people all have
    the factories' ``PASSWORD``).

    With ``then`` (a path), first opens it (which, signed out, shows the sign-in form)
    and waits until signing in has led back there, signed in: the address is the proof,
    as the navbar and its Sign out fold away on a phone. Without it, fills in the form
    the page shows now and leaves what follows to the test (which may expect a refusal).
    """
    expect = pytest.importorskip("playwright.sync_api").expect

    def sign_in(page, username="staff", *, then=None, password=PASSWORD):
        if then is not None:
            page.goto(live_server.url + then)
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        if then is not None:
            expect(page).to_have_url(live_server.url + then)
            signed_in = page.get_by_role("button", name="Sign out", include_hidden=True)
            expect(signed_in).to_be_attached()

    return sign_in


def sign_out(page):
    """Signs out with the navbar's button (shown on a wide screen) and waits for the
    sign-in form."""
    expect = pytest.importorskip("playwright.sync_api").expect
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()
