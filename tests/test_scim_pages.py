"""The directory admins' provisioning page: SCIM tokens made (shown once, stored as a
hash), revoked after a confirmation, and pushed groups linked to a knowledge community."""

import pytest
from django.urls import reverse

from communities.models import Membership
from provisioning import services
from provisioning.models import ProvisionedGroup, ScimToken

from .test_valid_html import Pages, nu_errors

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("provisioning:provisioning_overview")
CREATE = reverse("provisioning:token_create")


def revoke_url(token):
    return reverse("provisioning:token_revoke", args=[token.pk])


def link_url(group):
    return reverse("provisioning:group_link", args=[group.pk])


@pytest.fixture
def group(db):
    return services.save_group(values={"display_name": "Claims team"}, provider_name="Okta")


def test_a_directory_admin_creates_a_token_shown_once(client, directory_admin):
    client.force_login(directory_admin)
    response = client.post(CREATE, {"name": "Entra ID"})
    assert response.status_code == 200
    value = response.context["value"]
    page = response.content.decode()
    assert value in page
    assert "/scim/v2/" in page
    token = ScimToken.objects.get()
    assert (token.name, token.created_by) == ("Entra ID", directory_admin)
    assert token.token_hash == services.hash_token(value)
    # Never again: not on the overview, not recoverable from the row.
    assert value not in client.get(OVERVIEW).content.decode()
    assert services.authenticate_token(value) == token


def test_a_token_needs_a_name(client, directory_admin):
    client.force_login(directory_admin)
    response = client.post(CREATE, {"name": ""})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not ScimToken.objects.exists()


def test_revoking_asks_first_then_stops_the_token(client, directory_admin):
    token, value = services.create_token(name="Okta", created_by=directory_admin)
    client.force_login(directory_admin)
    confirmation = client.get(revoke_url(token))
    assert "Revoke the token for Okta?" in confirmation.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None  # asking changes nothing
    response = client.post(revoke_url(token))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert services.authenticate_token(value) is None
    assert "Revoked" in client.get(OVERVIEW).content.decode()
    response = client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {value}")
    assert response.status_code == 401


@pytest.mark.parametrize("who", ["staff", "steward", "outsider"])
def test_only_directory_admins_manage_tokens_and_links(client, request, who, open_kc, group):
    token, value = services.create_token(name="Okta", created_by=None)
    client.force_login(request.getfixturevalue(who))
    assert client.get(OVERVIEW).status_code == 403
    assert client.post(CREATE, {"name": "Mine"}).status_code == 403
    assert client.post(revoke_url(token)).status_code == 403
    response = client.post(link_url(group), {f"g{group.pk}-community": open_kc.pk})
    assert response.status_code == 403
    assert ScimToken.objects.get().revoked_at is None
    assert ScimToken.objects.count() == 1
    assert ProvisionedGroup.objects.get().community is None


def test_linking_a_group_marks_the_community_and_unlinking_gives_it_back(
    client, directory_admin, open_kc, group, member
):
    client.force_login(directory_admin)
    response = client.post(link_url(group), {f"g{group.pk}-community": open_kc.pk})
    assert response.status_code == 302
    open_kc.refresh_from_db()
    assert open_kc.membership_managed_by == "Okta"
    assert "Membership list of Claims Turnaround" in client.get(OVERVIEW).content.decode()
    client.force_login(member)
    page = client.get(open_kc.get_absolute_url()).content.decode()
    assert "Membership is managed by Okta." in page
    assert reverse("communities:membership_leave", args=[open_kc.slug]) not in page

    client.force_login(directory_admin)
    client.post(link_url(group), {f"g{group.pk}-community": ""})
    open_kc.refresh_from_db()
    assert open_kc.membership_managed_by == ""
    client.force_login(member)
    page = client.get(open_kc.get_absolute_url()).content.decode()
    assert reverse("communities:membership_leave", args=[open_kc.slug]) in page
    assert Membership.objects.get(community=open_kc, member__user=member).state == "active"


def test_a_community_links_to_one_group_only(client, directory_admin, open_kc, group):
    other = services.save_group(values={"display_name": "Other"}, provider_name="Okta")
    services.link_group(group=group, community=open_kc)
    client.force_login(directory_admin)
    response = client.post(link_url(other), {f"g{other.pk}-community": open_kc.pk}, follow=True)
    assert "is linked to the group Claims team already" in response.content.decode()
    assert ProvisionedGroup.objects.get(pk=other.pk).community is None


def test_provisioning_pages_are_valid_html(client, directory_admin, open_kc, group, tmp_path):
    pages = Pages(tmp_path)
    client.force_login(directory_admin)
    pages.add("provisioning-empty-tokens", client.get(OVERVIEW))
    pages.add("token-created", client.post(CREATE, {"name": "Entra ID"}))
    pages.add("token-error", client.post(CREATE, {"name": ""}))
    pages.add("provisioning", client.get(OVERVIEW))
    pages.add("token-revoke", client.get(revoke_url(ScimToken.objects.get())))
    services.link_group(group=group, community=open_kc)
    pages.add("community-managed", client.get(open_kc.get_absolute_url()))
    manage = reverse("communities:community_manage", args=[open_kc.slug])
    pages.add("community-managed-manage", client.get(manage))
    errors = nu_errors(pages.files)
    assert not errors, errors


def test_the_dashboard_links_to_provisioning(client, directory_admin):
    client.force_login(directory_admin)
    page = client.get(reverse("communities:dashboard")).content.decode()
    assert f'href="{OVERVIEW}"' in page
