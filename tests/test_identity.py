"""Single sign-on's common part: provider settings, matching people by subject, the
member record filled from claims, and the sign-in page with password sign-in on or off.
The protocols themselves are tested against real providers (test_oidc*, test_saml*)."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from identity import services
from identity.claims import Claims, mapped
from identity.config import DEFAULT_CLAIMS, ConfigError, Provider, providers_from_env
from identity.models import IdentityLink
from members.models import Department, Member

from .factories import PASSWORD, DepartmentFactory, member_named, superuser_named

User = get_user_model()


def provider(**kwargs) -> Provider:
    values = {"protocol": "oidc", "key": "corp", "name": "Corp", "claims": DEFAULT_CLAIMS["oidc"]}
    return Provider(**{**values, **kwargs})


OIDC_ENV = {
    "KCDIR_OIDC_PROVIDERS": "entra, okta",
    "KCDIR_OIDC_ENTRA_NAME": "Microsoft Entra ID",
    "KCDIR_OIDC_ENTRA_ISSUER": "https://login.example/v2.0",
    "KCDIR_OIDC_ENTRA_CLIENT_ID": "kcdir",
    "KCDIR_OIDC_ENTRA_CLIENT_SECRET": "s3cret",
    "KCDIR_OIDC_ENTRA_SUBJECT_CLAIM": "oid",
    "KCDIR_OIDC_ENTRA_CLAIMS": "job_title=jobTitle, username=upn",
    "KCDIR_OIDC_OKTA_ISSUER": "https://okta.example",
    "KCDIR_OIDC_OKTA_CLIENT_ID": "k",
    "KCDIR_OIDC_OKTA_CLIENT_SECRET": "s",
    "KCDIR_OIDC_OKTA_CREATE_USERS": "0",
    "KCDIR_SAML_PROVIDERS": "adfs",
    "KCDIR_SAML_ADFS_METADATA_FILE": "/etc/kcdir/adfs.xml",
}


class TestConfig:
    def test_providers_read_in_order_with_their_settings(self):
        entra, okta, adfs = providers_from_env(OIDC_ENV)
        assert (entra.key, entra.name, entra.protocol) == ("entra", "Microsoft Entra ID", "oidc")
        assert entra.subject_claim == "oid"
        assert entra.claims["job_title"] == "jobTitle"
        assert entra.claims["username"] == "upn"
        assert entra.claims["email"] == "email"  # the default stays
        assert entra.options == {
            "issuer": "https://login.example/v2.0",
            "client_id": "kcdir",
            "client_secret": "s3cret",
        }
        assert okta.name == "Okta" and okta.create_users is False
        assert (adfs.protocol, adfs.options["metadata_file"]) == ("saml", "/etc/kcdir/adfs.xml")

    def test_nothing_configured_means_no_providers(self):
        assert providers_from_env({}) == []

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"KCDIR_OIDC_ENTRA_ISSUER": ""}, "KCDIR_OIDC_ENTRA_ISSUER must be set"),
            ({"KCDIR_OIDC_PROVIDERS": "entra, entra"}, "used twice"),
            ({"KCDIR_OIDC_PROVIDERS": "Entra Corp"}, "is not a provider key"),
            ({"KCDIR_OIDC_ENTRA_CLAIMS": "shoe_size=x"}, "KCDIR_OIDC_ENTRA_CLAIMS"),
            ({"KCDIR_SAML_ADFS_METADATA_FILE": ""}, "METADATA_FILE or"),
        ],
    )
    def test_a_bad_setting_is_named(self, change, message):
        with pytest.raises(ConfigError, match=message):
            providers_from_env({**OIDC_ENV, **change})


class TestClaims:
    def test_oidc_claims_and_saml_attribute_lists_map_alike(self):
        oidc = mapped(provider(), "abc", {"preferred_username": "ada", "department": "Claims"})
        saml = mapped(
            provider(protocol="saml", claims=DEFAULT_CLAIMS["saml"]),
            "abc",
            {DEFAULT_CLAIMS["saml"]["username"]: ["ada", "other"]},
        )
        assert (oidc.subject, oidc.username, oidc.department) == ("abc", "ada", "Claims")
        assert (saml.username, saml.email) == ("ada", "")

    def test_subject_from_a_named_claim(self):
        claims = mapped(provider(subject_claim="oid"), "pairwise", {"oid": "0000-1111"})
        assert claims.subject == "0000-1111"


@pytest.mark.django_db
class TestAccountFor:
    def claims(self, **kwargs):
        values = {
            "subject": "sub-1",
            "username": "ada.lovelace@corp.example",
            "email": "ada@corp.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "department": "Analytical Engines",
            "job_title": "Analyst",
        }
        return Claims(**{**values, **kwargs})

    def test_first_sign_in_creates_the_member_from_the_claims(self):
        user = services.account_for(provider(), self.claims())
        assert user.username == "ada.lovelace@corp.example"
        assert not user.has_usable_password()
        assert (user.email, user.first_name) == ("ada@corp.example", "Ada")
        member = Member.objects.get(user=user)
        assert member.display_name == "Ada Lovelace"
        assert member.job_title == "Analyst"
        assert member.department.name == "Analytical Engines"
        assert IdentityLink.objects.get(provider="corp", subject="sub-1").user == user

    def test_later_sign_ins_update_and_never_duplicate(self):
        first = services.account_for(provider(), self.claims())
        DepartmentFactory(name="Finance", slug="finance")
        again = services.account_for(
            provider(), self.claims(username="renamed", job_title="Lead", department="finance ")
        )
        assert again == first
        assert User.objects.count() == 1
        again.member.refresh_from_db()
        assert again.member.job_title == "Lead"
        assert again.member.department.slug == "finance"  # found again by its slug
        assert Department.objects.count() == 2

    def test_an_email_alone_never_matches_an_existing_account(self):
        existing = member_named("Ada Local", username="ada.lovelace@corp.example").user
        existing.email = "ada@corp.example"
        existing.save()
        user = services.account_for(provider(), self.claims())
        assert user != existing
        assert user.username == "ada.lovelace@corp.example-2"

    def test_link_by_username_when_the_provider_is_trusted_for_it(self):
        existing = member_named("Ada Local", username="ada.lovelace@corp.example").user
        user = services.account_for(provider(link_by_username=True), self.claims())
        assert user == existing

    def test_link_by_username_never_takes_over_an_admin(self):
        admin = superuser_named("Root", username="ada.lovelace@corp.example").user
        user = services.account_for(provider(link_by_username=True), self.claims())
        assert user != admin

    def test_no_account_and_creation_off_is_refused_clearly(self):
        with pytest.raises(services.SignInRefused, match="no kcdir account for you yet"):
            services.account_for(provider(create_users=False), self.claims())
        assert not User.objects.exists()

    def test_a_switched_off_account_is_refused(self):
        user = services.account_for(provider(), self.claims())
        User.objects.filter(pk=user.pk).update(is_active=False)
        with pytest.raises(services.SignInRefused, match="switched off"):
            services.account_for(provider(), self.claims())

    def test_no_subject_is_refused(self):
        with pytest.raises(services.SignInRefused, match="did not say who you are"):
            services.account_for(provider(), self.claims(subject=""))


@pytest.mark.django_db
class TestSignInPage:
    def test_providers_offered_and_password_form_kept(self, client, settings):
        settings.IDENTITY_PROVIDERS = providers_from_env(OIDC_ENV)
        page = client.get(reverse("login")).content.decode()
        assert "Sign in with Microsoft Entra ID" in page
        assert "Sign in with Okta" in page
        assert 'name="password"' in page

    def test_password_sign_in_off_leaves_superusers_the_admin(self, client, settings):
        settings.KCDIR_PASSWORD_LOGIN = False
        staff = member_named("Staff Person", username="staffer").user
        superuser_named("Root", username="root")
        page = client.get(reverse("login")).content.decode()
        assert 'name="password"' not in page
        assert reverse("admin:login") in page
        refused = client.post(reverse("login"), {"username": "staffer", "password": PASSWORD})
        assert refused.status_code == 200
        assert "_auth_user_id" not in client.session
        client.post(
            reverse("admin:login"), {"username": "root", "password": PASSWORD, "next": "/admin/"}
        )
        assert client.session["_auth_user_id"] != str(staff.pk)
        assert client.get(reverse("admin:index")).status_code == 200
