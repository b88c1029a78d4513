"""Signing in with SAML in a real browser: kcdir's button, the identity provider's own
sign-in page (pysaml2's IdP on loopback, tests/idp/saml_idp.py), and back to kcdir,
signed in, with the department the provider sent on the person's profile."""

import urllib.request

import pytest
from django.urls import reverse

from identity import saml_settings
from identity.config import DEFAULT_CLAIMS, Provider
from identity.models import IdentityLink

from ..idp.saml_idp import XMLSEC1, ServedIdP
from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.skipif(XMLSEC1 is None, reason="the test SAML IdP signs with xmlsec1"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def served_idp(tmp_path, settings, live_server):
    served = ServedIdP(tmp_path)
    saml_settings.clear_cache()
    settings.IDENTITY_PROVIDERS = [
        Provider(
            protocol="saml",
            key="corp",
            name="Corp Sign-in",
            claims=DEFAULT_CLAIMS["saml"],
            options={"metadata_file": str(served.idp.write_metadata())},
        )
    ]
    # The IdP reads kcdir's metadata from its URL, as an IdP administrator would.
    metadata_url = live_server.url + reverse("identity:saml_metadata", args=["corp"])
    with urllib.request.urlopen(metadata_url, timeout=10) as answer:  # noqa: S310 (loopback)
        served.idp.trust_sp(answer.read())
    yield served.idp
    served.close()
    saml_settings.clear_cache()


def test_sign_in_at_the_identity_provider_and_land_back_signed_in(live_server, page, served_idp):
    page.goto(live_server.url + "/people/")
    page.get_by_role("button", name="Sign in with Corp Sign-in").click()

    expect(page.get_by_role("heading", name="Test IdP")).to_be_visible()
    assert page.url.startswith(served_idp.sso_url)
    page.get_by_label("IdP username").fill("grace")
    page.get_by_role("button", name="Sign in at the IdP").click()

    expect(page).to_have_url(live_server.url + "/people/")
    expect(page.get_by_role("button", name="Sign out", include_hidden=True)).to_be_attached()
    link = IdentityLink.objects.get(provider="corp")
    assert link.subject == "7f3c0a55-grace"

    page.goto(live_server.url + reverse("members:member_detail", args=[link.user.username]))
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    expect(page.get_by_text("Compilers").first).to_be_visible()
