"""SAML 2.0 sign-in against a real identity provider (pysaml2's, tests/idp/saml_idp.py):
kcdir's AuthnRequest goes to it, and the responses it signs come back to kcdir's
assertion consumer service, right ones and wrong ones."""

import dataclasses
import logging
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from identity import assertions, saml_settings
from identity.config import DEFAULT_CLAIMS, Provider
from identity.models import IdentityLink, SeenAssertion
from identity.services import SignInRefused
from members.models import Member

from .factories import member_named
from .idp.saml_idp import (
    DEPARTMENT,
    TITLE,
    XMLSEC1,
    SamlIdP,
    ServedIdP,
    key_and_certificate,
)
from .test_valid_html import nu_errors

pytestmark = pytest.mark.django_db

User = get_user_model()
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
LOGIN = reverse("identity:saml_login", args=["corp"])
ACS = reverse("identity:saml_acs", args=["corp"])
METADATA = reverse("identity:saml_metadata", args=["corp"])
REFUSED = "You are not signed in"


def corp(**options) -> Provider:
    return Provider(
        protocol="saml",
        key="corp",
        name="Corp Sign-in",
        claims=DEFAULT_CLAIMS["saml"],
        options=options,
    )


@pytest.fixture
def idp(tmp_path, settings, client):
    """The IdP, and kcdir configured for it: each reads the other's metadata."""
    if XMLSEC1 is None:
        pytest.skip("the test SAML IdP (pysaml2) signs with the xmlsec1 program: not installed")
    saml_settings.clear_cache()
    idp = SamlIdP(tmp_path)
    settings.IDENTITY_PROVIDERS = [corp(metadata_file=str(idp.write_metadata()))]
    idp.trust_sp(client.get(METADATA).content)
    yield idp
    saml_settings.clear_cache()


def start(client, next_url="/people/") -> str:
    """Press "Sign in with Corp Sign-in": the IdP address kcdir redirects to."""
    response = client.post(LOGIN, {"next": next_url})
    assert response.status_code == 302
    assert response.url.startswith("http://127.0.0.1:8765/sso?SAMLRequest=")
    return response.url


def post(client, posted: dict):
    assert urlsplit(posted["url"]).path == ACS
    return client.post(ACS, {"SAMLResponse": posted["SAMLResponse"], "RelayState": ""})


def signed_in_user(client):
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def assert_refused(response, client, *words):
    page = response.content.decode()
    assert response.status_code == 400
    assert REFUSED in page
    assert "Try again" in page
    for word in words:
        assert word in page
    assert signed_in_user(client) is None


class TestSignIn:
    def test_first_sign_in_creates_the_member_from_the_assertion(self, client, idp):
        response = post(client, idp.respond(start(client), "grace"))
        assert response.status_code == 302
        assert response.url == "/people/"
        user = signed_in_user(client)
        assert user.username == "grace.hopper@corp.example"
        assert (user.email, user.first_name, user.last_name) == (
            "grace@corp.example",
            "Grace",
            "Hopper",
        )
        member = Member.objects.get(user=user)
        assert member.display_name == "Grace Hopper"
        assert member.job_title == "Rear Admiral"
        assert member.department.name == "Compilers"
        link = IdentityLink.objects.get(user=user)
        assert (link.provider, link.subject) == ("corp", "7f3c0a55-grace")
        assert client.session["identity_provider"] == "corp"
        assert client.get("/people/").status_code == 200

    def test_second_sign_in_updates_the_same_member(self, client, idp):
        post(client, idp.respond(start(client), "grace"))
        idp.accounts["grace"][TITLE] = "Commodore"
        idp.accounts["grace"][DEPARTMENT] = "Navy Programming"
        again = Client()
        response = post(again, idp.respond(start(again), "grace"))
        assert response.status_code == 302
        assert User.objects.count() == 1
        member = Member.objects.get(user__username="grace.hopper@corp.example")
        assert member.job_title == "Commodore"
        assert member.department.name == "Navy Programming"
        assert signed_in_user(again) == member.user

    def test_next_elsewhere_is_ignored(self, client, idp):
        response = post(client, idp.respond(start(client, "https://evil.example/"), "alan"))
        assert response.status_code == 302
        assert response.url == reverse("communities:community_list")

    def test_existing_member_with_another_password_account_is_not_taken_over(self, client, idp):
        local = member_named("Grace Local", username="grace.hopper@corp.example").user
        post(client, idp.respond(start(client), "grace"))
        user = signed_in_user(client)
        assert user != local
        assert user.username == "grace.hopper@corp.example-2"

    def test_sign_in_page_lets_the_button_lead_to_the_provider(self, client, idp):
        """Browsers hold the redirect after the button's POST to the page's CSP
        form-action: it names the provider's sign-in origin."""
        page = client.get(reverse("login"))
        assert "Sign in with Corp Sign-in" in page.content.decode()
        policy = page["Content-Security-Policy"]
        form_action = next(d for d in policy.split(";") if "form-action" in d)
        assert form_action.split() == ["form-action", "'self'", "http://127.0.0.1:8765"]

    def test_login_needs_the_csrf_token(self, idp):
        browser = Client(enforce_csrf_checks=True)
        assert browser.post(LOGIN, {"next": "/"}).status_code == 403
        assert "identity_saml_pending" not in browser.session

    def test_metadata_from_a_url_is_fetched_and_kept(self, client, tmp_path, settings):
        if XMLSEC1 is None:
            pytest.skip("the test SAML IdP (pysaml2) signs with the xmlsec1 program")
        saml_settings.clear_cache()
        served = ServedIdP(tmp_path)
        try:
            settings.IDENTITY_PROVIDERS = [corp(metadata_url=served.idp.entity_id)]
            served.idp.trust_sp(client.get(METADATA).content)
            redirect = client.post(LOGIN, {"next": "/"}).url
            assert redirect.startswith(served.idp.sso_url + "?SAMLRequest=")
        finally:
            served.close()
        # The provider is gone, but its metadata is still known: the sign-in completes.
        response = post(client, served.idp.respond(redirect, "alan"))
        assert response.status_code == 302
        assert signed_in_user(client).username == "alan.turing@corp.example"
        saml_settings.clear_cache()

    def test_login_is_post_only(self, client, idp):
        assert client.get(LOGIN).status_code == 405
        assert "identity_saml_pending" not in client.session


class TestRefused:
    def test_tampered_assertion(self, client, idp, caplog):
        posted = idp.respond(
            start(client), "alan", edit=lambda xml: xml.replace("Codebreaking", "Directors")
        )
        with caplog.at_level(logging.WARNING, logger="identity.saml"):
            assert_refused(post(client, posted), client, "cannot trust")
        assert "SAML sign-in refused" in caplog.text
        assert posted["SAMLResponse"] not in caplog.text
        assert not User.objects.exists()

    def test_unsigned_assertion(self, client, idp):
        assert_refused(post(client, idp.respond(start(client), "alan", sign=False)), client)
        assert not User.objects.exists()

    def test_sha1_signature(self, client, idp):
        assert_refused(post(client, idp.respond(start(client), "alan", sha1=True)), client)
        assert not User.objects.exists()

    def test_wrong_audience(self, client, idp, settings):
        redirect = start(client)
        # kcdir now calls itself something else than what the IdP was asked for.
        settings.IDENTITY_PROVIDERS = [
            corp(
                metadata_file=settings.IDENTITY_PROVIDERS[0].options["metadata_file"],
                sp_entity_id="https://kcdir.example/saml",
            )
        ]
        assert_refused(post(client, idp.respond(redirect, "alan")), client, "cannot trust")
        assert not User.objects.exists()

    def test_wrong_recipient_and_destination(self, client, idp):
        posted = idp.respond(start(client), "alan", destination="http://testserver/elsewhere/")
        assert_refused(post(client, posted), client, "cannot trust")
        assert not User.objects.exists()

    def test_wrong_recipient_alone(self, client, idp):
        posted = idp.respond(start(client), "alan", recipient="http://testserver/elsewhere/")
        assert_refused(post(client, posted), client, "cannot trust")
        assert not User.objects.exists()

    def test_expired(self, client, idp):
        posted = idp.respond(start(client), "alan", lifetime_minutes=-10)
        assert_refused(post(client, posted), client, "expired")
        assert not User.objects.exists()

    def test_answer_to_another_request(self, client, idp):
        first = start(client)
        start(client)  # a second click: only the newest request may be answered
        assert_refused(post(client, idp.respond(first, "alan")), client, "cannot trust")

    def test_provider_initiated(self, client, idp):
        posted = idp.respond(start(client), "alan", in_response_to=None)
        assert_refused(post(client, posted), client, "cannot trust")
        assert not User.objects.exists()

    def test_provider_initiated_without_any_request(self, client, idp):
        posted = idp.respond(start(Client()), "alan", in_response_to=None)
        relay = post(client, posted)
        # No sign-in pending here (perhaps the cookie was held back): kcdir posts the
        # response once more from its own page, then refuses it.
        assert relay.status_code == 200
        assert 'name="relayed"' in relay.content.decode()
        response = client.post(
            ACS, {"SAMLResponse": posted["SAMLResponse"], "RelayState": "", "relayed": "1"}
        )
        assert_refused(response, client, "did not start at kcdir")

    def test_replayed_in_the_same_browser(self, client, idp):
        posted = idp.respond(start(client), "alan")
        assert post(client, posted).status_code == 302
        client.post(reverse("logout"))
        relay = post(client, posted)
        response = client.post(ACS, {"SAMLResponse": posted["SAMLResponse"], "relayed": "1"})
        assert relay.status_code == 200
        assert_refused(response, client, "already been used")

    def test_replayed_from_another_browser_with_the_same_pending_request(self, client, idp):
        """The database, not the session, refuses it: even a second browser holding the
        same request (or a second process) cannot use the response again."""
        posted = idp.respond(start(client), "alan")
        pending = dict(client.session["identity_saml_pending"])
        assert post(client, posted).status_code == 302
        other = Client()
        other.get(reverse("login"))
        session = other.session
        session["identity_saml_pending"] = pending
        session.save()
        assert_refused(post(other, posted), other, "already been used")
        assert SeenAssertion.objects.count() == 1

    def test_expired_assertions_are_forgotten(self, client, idp):
        SeenAssertion.objects.create(
            provider="corp", assertion_id="old", expires_at=timezone.now() - timedelta(hours=1)
        )
        post(client, idp.respond(start(client), "alan"))
        (kept,) = SeenAssertion.objects.all()
        assert kept.assertion_id != "old"
        assert kept.expires_at > timezone.now()

    def test_unknown_provider(self, client, idp):
        posted = idp.respond(start(client), "alan")
        response = client.post(reverse("identity:saml_acs", args=["nobody"]), posted)
        assert_refused(response, client, "does not know")

    def test_garbage(self, client, idp):
        start(client)
        response = client.post(ACS, {"SAMLResponse": "not base64 at all!"})
        assert_refused(response, client, "cannot trust")

    def test_account_refused_by_the_provider_settings(self, client, idp, settings):
        settings.IDENTITY_PROVIDERS = [
            dataclasses.replace(settings.IDENTITY_PROVIDERS[0], create_users=False)
        ]
        assert_refused(post(client, idp.respond(start(client), "alan")), client, "no kcdir account")

    def test_unreachable_metadata_url(self, client, settings):
        saml_settings.clear_cache()
        settings.IDENTITY_PROVIDERS = [corp(metadata_url="http://127.0.0.1:9/metadata")]
        response = client.post(LOGIN, {"next": "/"})
        assert_refused(response, client, "cannot reach Corp Sign-in")


class TestMetadata:
    @pytest.mark.parametrize("role", ["anonymous", "staff", "superuser"])
    def test_metadata_is_xml_for_everyone(self, client, idp, role, staff, superuser):
        if role != "anonymous":
            client.force_login({"staff": staff, "superuser": superuser}[role])
        response = client.get(METADATA)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/xml")
        root = etree.fromstring(response.content)
        assert root.get("entityID") == "http://testserver" + METADATA
        (acs,) = root.iter(f"{{{MD}}}AssertionConsumerService")
        assert acs.get("Location") == "http://testserver" + ACS
        assert acs.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        (descriptor,) = root.iter(f"{{{MD}}}SPSSODescriptor")
        assert descriptor.get("WantAssertionsSigned") == "true"

    def test_site_url_gives_https_addresses(self, client, idp, settings):
        settings.KCDIR_SITE_URL = "https://kcdir.example"
        root = etree.fromstring(client.get(METADATA).content)
        assert root.get("entityID") == "https://kcdir.example" + METADATA
        (acs,) = root.iter(f"{{{MD}}}AssertionConsumerService")
        assert acs.get("Location") == "https://kcdir.example" + ACS

    def test_behind_a_proxy_the_forwarded_scheme_counts(self, client, idp, settings):
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        settings.KCDIR_SITE_URL = ""
        root = etree.fromstring(
            client.get(
                METADATA, headers={"x-forwarded-proto": "https", "host": "testserver"}
            ).content
        )
        assert root.get("entityID") == "https://testserver" + METADATA

    def test_unknown_provider_is_404(self, client, idp):
        assert client.get(reverse("identity:saml_metadata", args=["nobody"])).status_code == 404


def test_refusal_and_relay_pages_are_valid_html(client, idp, tmp_path):
    posted = idp.respond(start(Client()), "alan")
    relay = post(client, posted)
    refused = client.post(ACS, {"SAMLResponse": posted["SAMLResponse"], "relayed": "1"})
    files = []
    for name, response in (("relay", relay), ("refused", refused)):
        files.append(tmp_path / f"{name}.html")
        files[-1].write_bytes(response.content)
    assert nu_errors(files) == []


def test_department_attribute_is_the_adfs_claim():
    assert DEFAULT_CLAIMS["saml"]["department"] == DEPARTMENT


def test_with_its_own_key_kcdir_signs_requests_and_publishes_its_certificate(
    client, idp, settings, tmp_path
):
    key, cert = key_and_certificate("kcdir SP")
    (tmp_path / "sp.key").write_bytes(key)
    (tmp_path / "sp.crt").write_bytes(cert)
    settings.IDENTITY_PROVIDERS = [
        dataclasses.replace(
            settings.IDENTITY_PROVIDERS[0],
            options={
                **settings.IDENTITY_PROVIDERS[0].options,
                "sp_cert_file": str(tmp_path / "sp.crt"),
                "sp_key_file": str(tmp_path / "sp.key"),
            },
        )
    ]
    metadata = client.get(METADATA).content
    (descriptor,) = etree.fromstring(metadata).iter(f"{{{MD}}}SPSSODescriptor")
    assert descriptor.get("AuthnRequestsSigned") == "true"
    assert list(descriptor.iter(f"{{{MD}}}KeyDescriptor"))
    assert b"PRIVATE" not in metadata
    redirect = start(client)
    assert "&Signature=" in redirect and "SigAlg=" in redirect
    assert post(client, idp.respond(redirect, "grace")).status_code == 302
    assert signed_in_user(client).username == "grace.hopper@corp.example"


@pytest.mark.django_db(transaction=True)
def test_two_processes_accepting_one_assertion_at_once_let_only_one_through():
    """The unique constraint decides (threads with their own connections stand in for
    two app servers). PostgreSQL only: SQLite's shared in-memory test database locks
    whole tables."""
    if connection.vendor != "postgresql":
        pytest.skip(f"concurrent writers need PostgreSQL; this run uses {connection.vendor}")
    barrier = threading.Barrier(2)
    outcomes = []

    def accept():
        try:
            barrier.wait(timeout=10)
            assertions.accept_assertion(
                provider=corp(),
                assertion_id="_same",
                expires_at=timezone.now() + timedelta(minutes=5),
            )
            outcomes.append("accepted")
        except SignInRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["accepted", "refused"]
    assert SeenAssertion.objects.count() == 1
