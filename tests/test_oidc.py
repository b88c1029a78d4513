"""OpenID Connect sign-in and sign-out, against a real OpenID Provider (panva's
oidc-provider, run by ``tests/idp``): the Django test client plays kcdir's side and
``requests`` the person's browser at the provider. What kcdir must refuse is produced by
the provider itself misbehaving (``misbehave_next_token``), never by mocking kcdir."""

import re
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from identity.models import IdentityLink
from members.models import Member

from .factories import PASSWORD
from .idp import (  # noqa: F401
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_CLIENT_ID,
    PROVIDER_KEY,
    oidc_provider,
    provider_settings,
    start_oidc_provider,
)

pytestmark = pytest.mark.django_db

User = get_user_model()
LOGIN_URL = reverse("login")
START_URL = reverse("identity:oidc_login", args=[PROVIDER_KEY])
CALLBACK_PATH = reverse("identity:oidc_callback", args=[PROVIDER_KEY])


@pytest.fixture
def idp(settings, oidc_provider):  # noqa: F811
    settings.IDENTITY_PROVIDERS = provider_settings(oidc_provider.issuer)
    return oidc_provider


def at_provider(start_url: str, login: str | None, *, cancel: bool = False) -> str:
    """What a person's browser does at the provider, from kcdir's redirect to the
    address the provider sends it back to (returned, not followed)."""
    browser = requests.Session()
    url = start_url
    for _ in range(10):
        if url.startswith("http://testserver/"):
            return url
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            continue
        assert 'name="login"' in response.text, response.text[:500]
        action = urljoin(url, re.search(r'<form method="post" action="([^"]+)"', response.text)[1])
        form = {"cancel": "1"} if cancel else {"login": login}
        response = browser.post(action, data=form, allow_redirects=False, timeout=10)
        url = urljoin(url, response.headers["Location"])
    raise AssertionError("the provider never sent the browser back to kcdir")


def start(client, next_url: str = "/people/"):
    response = client.post(START_URL, {"next": next_url})
    assert response.status_code == 302, response.content.decode()[:500]
    return response.url


def sign_in(client, login: str = "ada", next_url: str = "/people/"):
    """The whole journey; returns kcdir's answer to the provider's redirect back."""
    back = at_provider(start(client, next_url), login)
    return client.get(back.removeprefix("http://testserver"))


def signed_in_user(client):
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def assert_refused(response, words: str, status: int = 400):
    page = response.content.decode()
    assert response.status_code == status, page[:800]
    assert "Signing in with Corp ID did not work" in page
    assert words in page, page[:1500]
    assert "Try again" in page and f'href="{LOGIN_URL}' in page
    assert "_auth_user_id" not in response.wsgi_request.session


# -- signing in -----------------------------------------------------------------------


def test_first_sign_in_creates_the_member_from_id_token_and_userinfo(client, idp):
    response = sign_in(client, "ada", next_url="/people/")

    assert response.status_code == 302 and response.url == "/people/"
    user = signed_in_user(client)
    assert (user.username, user.email, user.first_name, user.last_name) == (
        "ada",
        "ada@corp.example",
        "Ada",
        "Lovelace",
    )
    assert not user.has_usable_password()
    member = Member.objects.get(user=user)
    assert member.display_name == "Ada Lovelace"
    assert member.department.name == "Analytical Engines"
    assert member.job_title == "Analyst"
    assert IdentityLink.objects.get(provider=PROVIDER_KEY, subject="sub-ada-0001").user == user
    # The department came from the userinfo endpoint: the ID token carries only the
    # protocol's claims, and is kept for the provider's sign-out.
    id_token = client.session["identity_oidc_id_token"]
    assert id_token.count(".") == 2
    profile = client.get(reverse("members:member_detail", args=["ada"])).content.decode()
    assert "Analytical Engines" in profile


def test_second_sign_in_updates_the_member(client, idp):
    sign_in(client, "alan")
    first = signed_in_user(client)
    idp.change_account("alan", department="Artificial Intelligence", job_title="Reader")

    again = Client()
    sign_in(again, "alan")

    assert signed_in_user(again) == first
    assert User.objects.filter(username__startswith="alan").count() == 1
    member = Member.objects.get(user=first)
    assert (member.department.name, member.job_title) == ("Artificial Intelligence", "Reader")


def test_next_pointing_elsewhere_is_dropped(client, idp):
    response = sign_in(client, "ada", next_url="https://evil.example/steal")

    assert response.status_code == 302
    assert response.url == reverse("communities:community_list")


def test_sign_in_starts_with_pkce_state_and_nonce(client, idp):
    query = parse_qs(urlsplit(start(client)).query)

    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [f"http://testserver{CALLBACK_PATH}"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}


def test_the_start_is_post_only(client, idp):
    assert client.get(START_URL).status_code == 405


def test_an_account_the_provider_may_not_create_is_refused_clearly(client, idp, settings):
    settings.IDENTITY_PROVIDERS = provider_settings(idp.issuer, create_users="0")

    response = sign_in(client, "grace")

    assert_refused(response, "no kcdir account for you yet", status=403)
    assert not User.objects.filter(username="grace").exists()


# -- what is refused ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("misbehaviour", "case"),
    [
        pytest.param({"claims": {"sub": "sub-grace-0001"}, "resign": False}, "tampered"),
        pytest.param({"foreign_key": True}, "signed with another key"),
        pytest.param({"alg_none": True}, "unsigned"),
        pytest.param({"claims": {"aud": OTHER_CLIENT_ID}}, "for another client"),
        pytest.param({"claims": {"aud": OTHER_CLIENT_ID, "azp": CLIENT_ID}}, "for another, azp"),
        pytest.param({"claims": {"iss": "http://127.0.0.1:9/"}}, "from another issuer"),
        pytest.param({"claims": {"nonce": "not-the-sessions-nonce"}}, "another nonce"),
        pytest.param({"claims": "expired"}, "expired"),
        pytest.param({"drop_id_token": True}, "no ID token"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_an_id_token_that_does_not_verify_signs_nobody_in(client, idp, misbehaviour, case):
    if misbehaviour.get("claims") == "expired":
        now = int(time.time())
        misbehaviour = {"claims": {"iat": now - 7200, "exp": now - 3600}}
    back = at_provider(start(client), "ada")
    idp.misbehave_next_token(**misbehaviour)

    response = client.get(back.removeprefix("http://testserver"))

    assert_refused(response, "kcdir could not verify what Corp ID sent back")
    assert not User.objects.exists()


def test_the_same_callback_twice_is_refused(client, idp):
    back = at_provider(start(client), "ada").removeprefix("http://testserver")
    assert client.get(back).status_code == 302
    client.logout()

    response = client.get(back)

    assert_refused(response, "had already been used")


def test_a_used_code_is_refused_by_the_provider_in_another_session(client, idp):
    back = urlsplit(at_provider(start(client), "ada"))
    client.get(f"{back.path}?{back.query}")
    attacker = Client()
    attacker_state = parse_qs(urlsplit(start(attacker)).query)["state"][0]
    code = parse_qs(back.query)["code"][0]

    response = attacker.get(CALLBACK_PATH, {"code": code, "state": attacker_state})

    assert_refused(response, "kcdir could not verify")


def test_a_state_this_session_did_not_send_is_refused(client, idp):
    back = urlsplit(at_provider(start(client), "ada"))
    code = parse_qs(back.query)["code"][0]

    response = client.get(CALLBACK_PATH, {"code": code, "state": "forged-state"})

    assert_refused(response, "could not match it to you")


def test_cancelling_at_the_provider_says_so(client, idp):
    back = at_provider(start(client, "/people/"), None, cancel=True)
    assert parse_qs(urlsplit(back).query)["error"] == ["access_denied"]

    response = client.get(back.removeprefix("http://testserver"))

    assert_refused(response, "it was cancelled or not allowed")
    # Trying again comes back to the page asked for.
    assert f'href="{LOGIN_URL}?next=%2Fpeople%2F"' in response.content.decode()


def test_a_provider_that_cannot_be_reached_is_a_502(client, settings, idp):
    settings.IDENTITY_PROVIDERS = provider_settings("http://127.0.0.1:9")

    response = client.post(START_URL, {"next": "/"})

    assert_refused(response, "kcdir could not reach Corp ID", status=502)


def test_a_provider_too_slow_to_answer_is_a_502(client, settings, idp):
    settings.IDENTITY_HTTP_TIMEOUT = 0.5
    settings.IDENTITY_PROVIDERS = provider_settings(idp.issuer, scopes="openid email profile")
    back = at_provider(start(client), "ada")
    idp.misbehave_next_token(delay_ms=2000)

    response = client.get(back.removeprefix("http://testserver"))

    assert_refused(response, "kcdir could not reach Corp ID", status=502)
    time.sleep(1.6)  # the provider finishes that response before the next test


def test_the_sign_in_page_lets_its_forms_go_to_the_provider(client, idp):
    response = client.get(LOGIN_URL)

    assert "Sign in with Corp ID" in response.content.decode()
    form_action = next(
        part for part in response["Content-Security-Policy"].split(";") if "form-action" in part
    )
    assert idp.issuer in form_action and "'self'" in form_action


# -- signing out ----------------------------------------------------------------------


def test_sign_out_ends_the_session_everywhere_and_offers_the_providers(client, idp):
    sign_in(client, "ada")
    id_token = client.session["identity_oidc_id_token"]
    old_cookie = client.cookies["sessionid"].value

    response = client.post(reverse("logout"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "You are signed out of kcdir" in page
    link = re.search(r'href="([^"]+)">Also sign out of Corp ID', page)[1].replace("&amp;", "&")
    assert link.startswith(f"{idp.issuer}/session/end?")
    query = parse_qs(urlsplit(link).query)
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == [f"http://testserver{LOGIN_URL}"]
    # Another process given the old cookie finds no session.
    other = Client()
    other.cookies["sessionid"] = old_cookie
    refused = other.get("/people/")
    assert refused.status_code == 302 and refused.url.startswith(LOGIN_URL)


def test_sign_out_from_a_provider_without_its_own_goes_to_sign_in(client, settings):
    provider = start_oidc_provider(
        redirect_uris=[f"http://testserver{CALLBACK_PATH}"], logout=False
    )
    try:
        settings.IDENTITY_PROVIDERS = provider_settings(provider.issuer)
        sign_in(client, "ada")
        assert signed_in_user(client).username == "ada"

        response = client.post(reverse("logout"))
    finally:
        provider.stop()

    assert response.status_code == 302 and response.url == LOGIN_URL
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("role", ["anonymous", "staff", "outsider", "steward", "admin"])
def test_sign_in_page_and_sign_out_for_every_role(
    client, idp, role, staff, outsider, steward, directory_admin
):
    user = {"staff": staff, "outsider": outsider, "steward": steward, "admin": directory_admin}
    if role != "anonymous":
        client.post(LOGIN_URL, {"username": user[role].username, "password": PASSWORD})
        assert signed_in_user(client) == user[role]

    page = client.get(LOGIN_URL)
    signed_out = client.post(reverse("logout"))

    assert page.status_code == 200 and "Sign in with Corp ID" in page.content.decode()
    assert signed_out.status_code == 302
    if role == "anonymous":
        assert urlsplit(signed_out.url).path == LOGIN_URL  # sent to sign in, as before
    else:
        # A password session: no provider to sign out of, straight to sign-in.
        assert signed_out.url == LOGIN_URL
        assert "_auth_user_id" not in client.session
        assert client.get("/people/").status_code == 302


# -- passwords off --------------------------------------------------------------------


def test_without_passwords_reset_and_change_say_so_and_send_nothing(
    client, settings, staff, mailoutbox
):
    settings.KCDIR_PASSWORD_LOGIN = False

    reset = client.post(reverse("password_reset"), {"email": staff.email})

    assert "kcdir does not use passwords" in reset.content.decode()
    assert mailoutbox == []
    client.force_login(staff)
    change = client.get(reverse("password_change"))
    assert "kcdir does not use passwords" in change.content.decode()
    assert 'name="old_password"' not in change.content.decode()


def test_without_passwords_superusers_still_change_theirs(client, settings, superuser):
    settings.KCDIR_PASSWORD_LOGIN = False
    client.force_login(superuser)

    page = client.get(reverse("password_change")).content.decode()

    assert 'name="old_password"' in page


# -- the pages ------------------------------------------------------------------------


def test_the_new_pages_are_valid_html(client, idp, settings, staff, tmp_path):
    from .test_valid_html import describe, nu_errors

    pages = {"sign-in": client.get(LOGIN_URL)}
    back = at_provider(start(client), None, cancel=True)
    pages["sign-in-failed"] = client.get(back.removeprefix("http://testserver"))
    sign_in(client, "ada")
    pages["signed-out"] = client.post(reverse("logout"))
    settings.KCDIR_PASSWORD_LOGIN = False
    pages["passwords-not-used"] = client.get(reverse("password_reset"))
    files = []
    for name, response in pages.items():
        assert b"<h1" in response.content, name
        files.append(tmp_path / f"{name}.html")
        files[-1].write_bytes(response.content)

    errors = nu_errors(files)

    assert not errors, describe(errors)


def test_opening_the_callback_directly_is_refused(client, idp):
    assert_refused(client.get(CALLBACK_PATH), "could not match it to you")


def test_a_discovery_document_naming_another_issuer_is_refused(client, settings, idp):
    # Configured with a trailing slash: the provider names itself without one.
    settings.IDENTITY_PROVIDERS = provider_settings(idp.issuer + "/")

    response = client.post(START_URL, {"next": "/"})

    assert_refused(response, "not set up correctly", status=502)


def test_failures_are_logged_without_codes_or_secrets(client, idp, caplog):
    back = at_provider(start(client), "ada")
    code = parse_qs(urlsplit(back).query)["code"][0]
    idp.misbehave_next_token(foreign_key=True)

    with caplog.at_level("WARNING", logger="kcdir.security"):
        client.get(back.removeprefix("http://testserver"))

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "OIDC sign-in failed: provider=corp reason=token" in logged
    assert code not in logged and CLIENT_SECRET not in logged
