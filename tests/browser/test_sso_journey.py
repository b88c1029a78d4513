"""Single sign-on as a person does it, in Chromium: "Sign in with Corp ID" on kcdir, the
provider's own sign-in page, back on kcdir signed in with what the provider says about
them, then signing out of kcdir and, offered it, out of the provider too. The provider
is a real one (tests/idp); the sign-in form posts to kcdir, which redirects to the
provider, a redirect Chromium holds to the page's CSP form-action."""

import re

import pytest

from ..idp import PROVIDER_KEY, provider_settings, start_oidc_provider
from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(scope="module")
def live_idp(live_server):
    provider = start_oidc_provider(
        redirect_uris=[f"{live_server.url}/sso/oidc/{PROVIDER_KEY}/callback/"],
        post_logout_uris=[f"{live_server.url}/accounts/login/"],
    )
    yield provider
    provider.stop()


def test_sign_in_with_the_provider_and_sign_out_of_both(screen, live_server, live_idp, settings):
    settings.IDENTITY_PROVIDERS = provider_settings(live_idp.issuer)
    violations = []
    screen.on("console", lambda message: violations.append(message.text))
    page = screen

    page.goto(f"{live_server.url}/people/")
    page.get_by_role("button", name="Sign in with Corp ID").click()
    # The provider's own page.
    expect(page.get_by_role("heading", name="Test provider")).to_be_visible()
    page.get_by_label("Login name").fill("grace")
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{live_server.url}/people/")
    page.goto(f"{live_server.url}/people/grace/")
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    expect(page.get_by_text("Compilers")).to_be_visible()
    assert not [text for text in violations if "Content Security Policy" in text]

    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
        # Bootstrap's collapse moves the button while it opens: click once it is open.
        expect(page.locator("#main-nav")).to_have_class(re.compile(r"\bshow\b"))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out of kcdir")).to_be_visible()
    page.get_by_role("link", name="Also sign out of Corp ID").click()
    # The provider asks before it ends its own session, then sends the person back.
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("button", name="Sign in with Corp ID")).to_be_visible()

    # Signed out at the provider too: signing in again asks who you are.
    page.get_by_role("button", name="Sign in with Corp ID").click()
    expect(page.get_by_label("Login name")).to_be_visible()
