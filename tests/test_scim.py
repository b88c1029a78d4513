"""SCIM 2.0 provisioning (``/scim/v2/``) through real HTTP requests, as Entra ID and Okta
send them. Request bodies follow the examples Microsoft ("Tutorial: Develop and plan
provisioning for a SCIM endpoint in Microsoft Entra ID") and Okta ("SCIM 2.0 protocol
reference") publish."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from communities.models import Membership, MembershipEvent
from members.models import Department, Member
from provisioning import services
from provisioning.models import ProvisionedGroup, ProvisionedUser, ScimToken

from .factories import MemberFactory, MembershipFactory, led_kc, member_named

pytestmark = pytest.mark.django_db

User = get_user_model()
SCIM = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# Microsoft's "Create User" request.
ENTRA_CREATE_USER = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
    "active": True,
    "emails": [
        {
            "primary": True,
            "type": "work",
            "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
        }
    ],
    "meta": {"resourceType": "User"},
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName",
    },
    "roles": [],
}

# Okta's "Create the User" request.
OKTA_CREATE_USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}

# Microsoft's "Create Group" request.
ENTRA_CREATE_GROUP = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/Group",
    ],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {"resourceType": "Group"},
}


@pytest.fixture
def token(directory_admin):
    token, value = services.create_token(name="Entra ID", created_by=directory_admin)
    return value


@pytest.fixture
def scim(client, token):
    """``scim.get(path)``, ``scim.post(path, body)``…: SCIM requests with the token."""

    class Scim:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

        def _url(self, path):
            return "/scim/v2/" + path

        def get(self, path, **extra):
            return client.get(self._url(path), **self.headers, **extra)

        def delete(self, path, **extra):
            return client.delete(self._url(path), **self.headers, **extra)

        def send(self, method, path, body, **extra):
            data = body if isinstance(body, str | bytes) else json.dumps(body)
            return getattr(client, method)(
                self._url(path), data=data, content_type=SCIM, **self.headers, **extra
            )

        def post(self, path, body, **extra):
            return self.send("post", path, body, **extra)

        def put(self, path, body, **extra):
            return self.send("put", path, body, **extra)

        def patch(self, path, body, **extra):
            return self.send("patch", path, body, **extra)

    return Scim()


def patch_ops(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def create_user(scim, body=None, **changes):
    response = scim.post("Users", {**(body or OKTA_CREATE_USER), **changes})
    assert response.status_code == 201, response.content
    return response.json()


def snapshot():
    """Everything a SCIM request may change, to prove a refused one changed nothing."""
    return (
        list(User.objects.order_by("pk").values_list("username", "email", "is_active")),
        list(Member.objects.order_by("pk").values_list("display_name", "department_id")),
        list(Membership.objects.order_by("pk").values_list("state", "role")),
        MembershipEvent.objects.count(),
        list(ProvisionedUser.objects.values_list("external_id")),
        list(ProvisionedGroup.objects.values_list("display_name", "community_id")),
        Department.objects.count(),
    )


# -- discovery --------------------------------------------------------------------------


def test_service_provider_config_says_what_is_supported(scim):
    response = scim.get("ServiceProviderConfig")
    assert response.status_code == 200
    config = response.json()
    assert config["patch"] == {"supported": True}
    assert config["filter"]["supported"] is True
    assert config["etag"] == {"supported": True}
    assert config["bulk"]["supported"] is False
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_list_users_with_the_enterprise_extension_and_groups(scim):
    resources = {item["id"]: item for item in scim.get("ResourceTypes").json()["Resources"]}
    assert set(resources) == {"User", "Group"}
    assert resources["User"]["endpoint"] == "/Users"  # relative to the service's base URL
    assert resources["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert scim.get("ResourceTypes/Group").json()["endpoint"] == "/Groups"
    missing = scim.get("ResourceTypes/Nope")
    assert (missing.status_code, missing.json()["schemas"]) == (404, [ERROR])


def test_schemas_include_user_group_and_enterprise_user(scim):
    ids = {item["id"] for item in scim.get("Schemas").json()["Resources"]}
    assert {"urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE} <= ids
    assert "urn:ietf:params:scim:schemas:core:2.0:Group" in ids
    user_schema = scim.get("Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    assert user_schema["name"] == "User"


# -- tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "bearer "],
)
def test_requests_without_a_valid_token_are_401_and_change_nothing(client, token, authorization):
    before = snapshot()
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    for method, path in [("get", "Users"), ("post", "Users"), ("get", "ServiceProviderConfig")]:
        response = getattr(client, method)(
            f"/scim/v2/{path}",
            data=json.dumps(OKTA_CREATE_USER) if method == "post" else None,
            content_type=SCIM,
            **extra,
        )
        assert response.status_code == 401
        assert response.json()["schemas"] == [ERROR]
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert snapshot() == before


def test_a_revoked_token_stops_working_at_once(client, scim, token):
    assert scim.get("Users").status_code == 200
    services.revoke_token(token=ScimToken.objects.get())
    response = scim.post("Users", OKTA_CREATE_USER)
    assert response.status_code == 401
    assert not User.objects.filter(username="test.user@okta.local").exists()


def test_only_the_tokens_hash_is_stored_and_use_is_noted(scim, token):
    stored = ScimToken.objects.get()
    assert stored.token_hash == services.hash_token(token)
    assert token not in stored.token_hash
    assert stored.last_used_at is None
    scim.get("Users")
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_a_signed_in_session_is_not_a_token(client, directory_admin):
    client.force_login(directory_admin)
    response = client.get("/scim/v2/Users")
    assert response.status_code == 401


# -- users ------------------------------------------------------------------------------


def test_entra_creates_a_user_with_an_unusable_password(scim):
    created = create_user(scim, ENTRA_CREATE_USER)
    user = User.objects.get(username=ENTRA_CREATE_USER["userName"])
    assert created["id"] == str(user.pk)
    assert created["externalId"] == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    assert user.email == "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
    assert (user.first_name, user.last_name, user.is_active) == ("givenName", "familyName", True)
    assert not user.has_usable_password()
    assert user.member.display_name == "givenName familyName"
    assert user.provisioned.external_id == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    assert created["meta"]["location"].endswith(f"/scim/v2/Users/{user.pk}")


def test_okta_creates_a_user_and_its_password_is_not_kept(scim):
    created = create_user(scim)
    user = User.objects.get(username="test.user@okta.local")
    assert not user.has_usable_password()
    assert not user.check_password("1mz050nq")
    assert user.member.display_name == "Test User"
    assert created["displayName"] == "Test User"
    assert created["emails"] == [{"value": "test.user@okta.local"}]


def test_enterprise_department_and_title_are_kept_and_departments_made_by_name(scim):
    Department.objects.create(name="Claims", slug="claims")
    departments = Department.objects.count()
    create_user(
        scim,
        title="Adjuster",
        **{ENTERPRISE: {"department": "claims", "manager": {"value": "12"}}},
    )
    create_user(
        scim,
        userName="second@okta.local",
        externalId="second",
        **{ENTERPRISE: {"department": "Reinsurance"}},
    )
    first = Member.objects.get(user__username="test.user@okta.local")
    assert (first.job_title, first.department.name) == ("Adjuster", "Claims")
    assert Member.objects.get(user__username="second@okta.local").department.slug == "reinsurance"
    assert Department.objects.count() == departments + 1
    shown = scim.get(f"Users/{first.user_id}").json()
    assert shown["title"] == "Adjuster"
    assert shown[ENTERPRISE] == {"department": "Claims"}


def test_a_username_in_use_is_409_uniqueness(scim):
    member_named("Existing", username="test.user@okta.local")
    before = snapshot()
    response = scim.post("Users", {**OKTA_CREATE_USER, "userName": "TEST.user@okta.local"})
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[1, 2]",
        json.dumps({**OKTA_CREATE_USER, "userName": ""}),
        json.dumps({**OKTA_CREATE_USER, "active": "maybe"}),
        json.dumps({**OKTA_CREATE_USER, "name": "Test User"}),
    ],
)
def test_malformed_bodies_are_400_with_a_scim_error_and_change_nothing(scim, body):
    before = snapshot()
    response = scim.post("Users", body)
    assert response.status_code == 400
    error = response.json()
    assert error["schemas"] == [ERROR]
    assert error["scimType"] in {"invalidSyntax", "invalidValue"}
    assert error["detail"]
    assert snapshot() == before


def test_put_replaces_the_whole_user(scim):
    created = create_user(scim, title="Adjuster")
    body = {
        **OKTA_CREATE_USER,
        "name": {"givenName": "Tess", "familyName": "Usher"},
        "displayName": "Tess Usher",
        "emails": [{"primary": True, "value": "tess@okta.local", "type": "work"}],
    }
    response = scim.put(f"Users/{created['id']}", body)
    assert response.status_code == 200, response.content
    user = User.objects.get(pk=created["id"])
    assert (user.first_name, user.last_name, user.email) == ("Tess", "Usher", "tess@okta.local")
    assert user.member.display_name == "Tess Usher"
    assert user.member.job_title == ""  # left out of the replacement: cleared


def test_entra_patch_shapes_update_the_user(scim):
    created = create_user(scim, ENTRA_CREATE_USER)
    response = scim.patch(
        f"Users/{created['id']}",
        patch_ops(
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "updatedEmail@microsoft.com",
            },
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "title", "value": "Underwriter"},
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Pricing"},
            {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "555-0100"},
        ),
    )
    assert response.status_code == 200, response.content
    user = User.objects.get(pk=created["id"])
    assert user.email == "updatedEmail@microsoft.com"
    assert user.last_name == "updatedFamilyName"
    assert user.first_name == "givenName"  # untouched by PATCH
    assert user.member.job_title == "Underwriter"
    assert user.member.department.name == "Pricing"
    assert response.json()["name"]["familyName"] == "updatedFamilyName"


def test_an_unknown_patch_op_is_400_and_earlier_operations_are_not_applied(scim):
    created = create_user(scim)
    before = snapshot()
    response = scim.patch(
        f"Users/{created['id']}",
        patch_ops(
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "move", "path": "title", "value": "x"},
        ),
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"
    assert snapshot() == before


def test_unknown_or_malformed_ids_are_404(scim):
    assert scim.get("Users/999999").status_code == 404
    assert scim.get("Users/not-a-number").status_code == 404
    assert scim.get("Groups/abc").status_code == 404


def test_admin_accounts_are_not_provisioned(scim, superuser):
    assert scim.get(f"Users/{superuser.pk}").status_code == 404
    assert scim.get('Users?filter=userName eq "root"').json()["totalResults"] == 0
    response = scim.patch(
        f"Users/{superuser.pk}", patch_ops({"op": "replace", "path": "active", "value": False})
    )
    assert response.status_code == 404
    superuser.refresh_from_db()
    assert superuser.is_active


# -- deactivation ---------------------------------------------------------------------


@pytest.fixture
def leaving_steward(scim):
    """A provisioned person who is the only steward of a KC and a member of another."""
    created = create_user(scim)
    member = Member.objects.get(user_id=created["id"])
    only_led = led_kc(steward=member, name="Solo Stewarded", slug="solo")
    other = led_kc(name="Other KC", slug="other-kc")
    MembershipFactory(member=member, community=other)
    return created, only_led, other


def assert_left_by_provider(member_id, communities):
    memberships = Membership.objects.filter(member_id=member_id)
    assert {m.state for m in memberships} == {Membership.State.LEFT}
    events = MembershipEvent.objects.filter(target_id=member_id, action=MembershipEvent.Action.LEFT)
    assert {event.community_id for event in events} == {c.pk for c in communities}
    assert {event.actor_name for event in events} == {"Entra ID"}
    assert all(event.actor_id is None for event in events)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Replace", "path": "active", "value": "False"},  # Entra ID
        {"op": "Replace", "path": "active", "value": False},  # Entra ID, RFC-compliant
        {"op": "replace", "value": {"active": False}},  # Okta
    ],
    ids=["entra-string", "entra-bool", "okta"],
)
def test_deactivating_ends_memberships_as_the_hr_sync_does_and_the_last_steward_does_not_block(
    scim, client, directory_admin, leaving_steward, operation
):
    created, only_led, other = leaving_steward
    response = scim.patch(f"Users/{created['id']}", patch_ops(operation))
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    user = User.objects.get(pk=created["id"])
    assert not user.is_active
    member_id = user.member.pk
    assert_left_by_provider(member_id, [only_led, other])
    # Nothing deleted.
    assert User.objects.filter(pk=user.pk).exists()
    assert Membership.objects.filter(member_id=member_id).count() == 2
    # The KC left without a steward shows on the dashboard.
    client.force_login(directory_admin)
    page = client.get(reverse("communities:dashboard")).content.decode()
    section = page[page.index("Solo Stewarded") :][:600]
    assert "no steward" in section


def test_delete_deactivates_and_deletes_nothing(scim, leaving_steward):
    created, only_led, other = leaving_steward
    response = scim.delete(f"Users/{created['id']}")
    assert response.status_code == 204
    user = User.objects.get(pk=created["id"])
    assert not user.is_active
    assert_left_by_provider(user.member.pk, [only_led, other])
    # Deleted for the provider (RFC 7644: 404 from then on), kept in kcdir.
    assert scim.get(f"Users/{created['id']}").status_code == 404
    assert scim.get('Users?filter=userName eq "test.user@okta.local"').json()["totalResults"] == 0
    # Created again: the same person comes back, active, memberships still left.
    again = create_user(scim)
    assert again["id"] == created["id"] and again["active"] is True
    assert {m.state for m in Membership.objects.filter(member__user=user)} == {"left"}


def test_reactivating_restores_the_account_and_memberships_stay_left(scim, leaving_steward):
    created, *_ = leaving_steward
    scim.patch(f"Users/{created['id']}", patch_ops({"op": "replace", "value": {"active": False}}))
    response = scim.patch(
        f"Users/{created['id']}", patch_ops({"op": "Replace", "path": "active", "value": "True"})
    )
    assert response.status_code == 200
    user = User.objects.get(pk=created["id"])
    assert user.is_active
    assert {m.state for m in Membership.objects.filter(member__user=user)} == {"left"}


# -- lists, filters, paging ------------------------------------------------------------


def test_filter_by_username_and_external_id(scim):
    created = create_user(scim, ENTRA_CREATE_USER)
    create_user(scim)
    found = scim.get(f'Users?filter=userName eq "{ENTRA_CREATE_USER["userName"]}"').json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == created["id"]
    found = scim.get('Users?filter=externalId eq "00ujl29u0le5T6Aj10h7"').json()
    assert [item["userName"] for item in found["Resources"]] == ["test.user@okta.local"]
    assert scim.get('Users?filter=userName eq "nobody"').json()["totalResults"] == 0


def test_a_bad_filter_is_400_invalid_filter(scim):
    response = scim.get('Users?filter=userName wibble "x"')
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


def test_paging_with_start_index_and_count(scim):
    for n in range(4):
        MemberFactory(user__username=f"person{n}")
    total = services.provisionable_users().count()
    assert total == 5  # with the directory admin who made the token
    first = scim.get("Users?startIndex=1&count=2").json()
    assert (first["totalResults"], first["itemsPerPage"], first["startIndex"]) == (5, 2, 1)
    third = scim.get("Users?startIndex=5&count=2").json()
    assert (third["itemsPerPage"], third["startIndex"]) == (1, 5)
    pages = [scim.get(f"Users?startIndex={start}&count=2").json() for start in (1, 3, 5)]
    everyone = [item["id"] for page in pages for item in page["Resources"]]
    assert len(set(everyone)) == 5
    assert scim.get("Users?count=0").json()["Resources"] == []
    assert scim.get("Users?startIndex=0").status_code == 400


@pytest.mark.parametrize("people", [3, 30])
def test_users_list_reads_a_fixed_number_of_queries(scim, django_assert_max_num_queries, people):
    department = Department.objects.create(name="Claims", slug="claims")
    for n in range(people):
        member = MemberFactory(user__username=f"p{n}", department=department)
        ProvisionedUser.objects.create(user=member.user, external_id=f"x{n}")
    # The token and its last use, then count and page inside the request's savepoint.
    with django_assert_max_num_queries(6):
        response = scim.get("Users?count=100")
    assert response.json()["totalResults"] == people + 1  # and the token's maker
    departments = {item[ENTERPRISE]["department"] for item in response.json()["Resources"]}
    assert "Claims" in departments


# -- ETags ------------------------------------------------------------------------------


def test_etags_follow_changes_and_if_match_refuses_stale_writes(scim):
    created = create_user(scim)
    response = scim.get(f"Users/{created['id']}")
    etag = response["ETag"]
    assert etag.startswith('W/"') and response.json()["meta"]["version"] == etag
    assert scim.get(f"Users/{created['id']}", HTTP_IF_NONE_MATCH=etag).status_code == 304
    changed = scim.patch(
        f"Users/{created['id']}",
        patch_ops({"op": "replace", "path": "title", "value": "Lead"}),
        HTTP_IF_MATCH=etag,
    )
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    before = snapshot()
    stale = scim.patch(
        f"Users/{created['id']}",
        patch_ops({"op": "replace", "path": "title", "value": "Other"}),
        HTTP_IF_MATCH=etag,
    )
    assert stale.status_code == 412
    assert scim.delete(f"Users/{created['id']}", HTTP_IF_MATCH=etag).status_code == 412
    assert snapshot() == before


# -- groups: departments ---------------------------------------------------------------


def test_a_group_is_a_department_and_its_members_have_it(scim):
    alice = create_user(scim, userName="alice@okta.local", externalId="a")
    bob = create_user(scim, userName="bob@okta.local", externalId="b")
    response = scim.post("Groups", {**ENTRA_CREATE_GROUP, "displayName": "Actuarial"})
    assert response.status_code == 201, response.content
    group = response.json()
    assert group["members"] == []
    # Okta's add-members shape.
    response = scim.patch(
        f"Groups/{group['id']}",
        patch_ops(
            {
                "op": "add",
                "path": "members",
                "value": [
                    {"value": alice["id"], "display": "alice@okta.local"},
                    {"value": bob["id"], "display": "bob@okta.local"},
                ],
            }
        ),
    )
    assert response.status_code == 200, response.content
    assert {m["value"] for m in response.json()["members"]} == {alice["id"], bob["id"]}
    assert Member.objects.get(user_id=alice["id"]).department.name == "Actuarial"
    # Okta's remove shape: a filter in the path.
    response = scim.patch(
        f"Groups/{group['id']}",
        patch_ops({"op": "remove", "path": f'members[value eq "{alice["id"]}"]'}),
    )
    assert [m["value"] for m in response.json()["members"]] == [bob["id"]]
    assert Member.objects.get(user_id=alice["id"]).department is None
    # Entra ID's remove shape: a list value, capitalised op.
    scim.patch(
        f"Groups/{group['id']}",
        patch_ops(
            {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": bob["id"]}]}
        ),
    )
    assert Member.objects.get(user_id=bob["id"]).department is None


def test_group_filter_by_display_name_and_excluded_members(scim):
    scim.post("Groups", ENTRA_CREATE_GROUP)
    scim.post("Groups", {**ENTRA_CREATE_GROUP, "displayName": "Other", "externalId": "o"})
    found = scim.get('Groups?filter=displayName eq "displayName"&excludedAttributes=members').json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["displayName"] == "displayName"
    assert "members" not in found["Resources"][0]
    assert (
        scim.get('Groups?filter=externalId eq "o"').json()["Resources"][0]["displayName"] == "Other"
    )


def test_a_group_name_in_use_is_409(scim):
    scim.post("Groups", ENTRA_CREATE_GROUP)
    response = scim.post("Groups", ENTRA_CREATE_GROUP)
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


def test_okta_renames_a_group_with_a_pathless_replace(scim):
    group = scim.post("Groups", ENTRA_CREATE_GROUP).json()
    response = scim.patch(
        f"Groups/{group['id']}",
        patch_ops({"op": "replace", "value": {"id": group["id"], "displayName": "Test SCIMv2"}}),
    )
    assert response.status_code == 200
    assert ProvisionedGroup.objects.get().display_name == "Test SCIMv2"


def test_put_on_a_group_sets_its_whole_member_list(scim):
    alice = create_user(scim, userName="alice@okta.local", externalId="a")
    bob = create_user(scim, userName="bob@okta.local", externalId="b")
    group = scim.post("Groups", {**ENTRA_CREATE_GROUP, "members": [{"value": alice["id"]}]}).json()
    assert [m["value"] for m in group["members"]] == [alice["id"]]
    response = scim.put(
        f"Groups/{group['id']}", {**ENTRA_CREATE_GROUP, "members": [{"value": bob["id"]}]}
    )
    assert [m["value"] for m in response.json()["members"]] == [bob["id"]]


def test_deleting_a_group_forgets_it_and_keeps_people_and_departments(scim):
    alice = create_user(scim, userName="alice@okta.local", externalId="a")
    group = scim.post("Groups", {**ENTRA_CREATE_GROUP, "members": [{"value": alice["id"]}]}).json()
    assert scim.delete(f"Groups/{group['id']}").status_code == 204
    assert not ProvisionedGroup.objects.exists()
    assert Member.objects.get(user_id=alice["id"]).department.name == "displayName"


# -- groups linked to a knowledge community --------------------------------------------


@pytest.fixture
def linked(scim, open_kc):
    group = scim.post("Groups", {**ENTRA_CREATE_GROUP, "displayName": "KC Claims"}).json()
    services.link_group(group=ProvisionedGroup.objects.get(pk=group["id"]), community=open_kc)
    open_kc.refresh_from_db()
    return group, open_kc


def test_linking_marks_the_community_as_managed_by_the_provider(linked):
    _group, community = linked
    assert community.membership_managed_by == "Entra ID"


def test_adding_and_removing_group_members_changes_the_roster_with_events(scim, linked):
    group, community = linked
    alice = create_user(scim, userName="alice@okta.local", externalId="a")
    bob = create_user(scim, userName="bob@okta.local", externalId="b")
    response = scim.patch(
        f"Groups/{group['id']}",
        patch_ops(
            {
                "op": "Add",
                "path": "members",
                "value": [{"$ref": None, "value": alice["id"]}, {"value": bob["id"]}],
            }
        ),
    )
    assert response.status_code == 200, response.content
    active = Membership.objects.filter(community=community, state="active")
    assert {m.member.user_id for m in active} >= {int(alice["id"]), int(bob["id"])}
    added = MembershipEvent.objects.filter(community=community, action="added")
    assert added.count() == 2
    assert {event.actor_name for event in added} == {"Entra ID"}
    member_values = {m["value"] for m in response.json()["members"]}
    assert {alice["id"], bob["id"]} <= member_values
    # People who were on the list before show in the group too.
    assert len(member_values) == active.count()

    scim.patch(
        f"Groups/{group['id']}",
        patch_ops({"op": "remove", "path": f'members[value eq "{alice["id"]}"]'}),
    )
    alice_membership = Membership.objects.get(community=community, member__user_id=alice["id"])
    assert alice_membership.state == "removed"
    removed = MembershipEvent.objects.get(community=community, action="removed")
    assert (removed.actor_name, removed.target.user_id) == ("Entra ID", int(alice["id"]))
    community.refresh_from_db()
    still_active = Membership.objects.filter(community=community, state="active").count()
    assert community.active_member_count == still_active


def test_removing_the_last_steward_through_the_group_is_not_blocked(scim, linked, steward):
    group, community = linked
    response = scim.patch(
        f"Groups/{group['id']}",
        patch_ops({"op": "remove", "path": f'members[value eq "{steward.pk}"]'}),
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(
        community=community, state="active", role="steward"
    ).exists()


def test_a_failing_member_mid_request_leaves_the_roster_unchanged(scim, linked):
    group, _community = linked
    alice = create_user(scim, userName="alice@okta.local", externalId="a")
    before = snapshot()
    response = scim.patch(
        f"Groups/{group['id']}",
        patch_ops(
            {"op": "add", "path": "members", "value": [{"value": alice["id"]}]},
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "add", "path": "members", "value": [{"value": "987654"}]},
        ),
    )
    assert response.status_code == 400
    assert response.json()["schemas"] == [ERROR]
    assert snapshot() == before


def test_a_failing_write_after_roster_changes_rolls_them_back(scim, linked):
    """The roster changes are written, then the rename clashes: all undone together."""
    group, _community = linked
    scim.post("Groups", {**ENTRA_CREATE_GROUP, "displayName": "Taken"})
    alice = create_user(scim, userName="alice@okta.local", externalId="a")
    before = snapshot()
    response = scim.put(
        f"Groups/{group['id']}",
        {**ENTRA_CREATE_GROUP, "displayName": "Taken", "members": [{"value": alice["id"]}]},
    )
    assert response.status_code == 409
    assert snapshot() == before


def test_unlinking_gives_the_list_back(linked):
    _group, community = linked
    services.link_group(group=ProvisionedGroup.objects.get(), community=None)
    community.refresh_from_db()
    assert community.membership_managed_by == ""


def test_only_knowledge_communities_can_be_linked(scim, cop):
    group = scim.post("Groups", ENTRA_CREATE_GROUP).json()
    with pytest.raises(services.ProvisioningError):
        services.link_group(group=ProvisionedGroup.objects.get(pk=group["id"]), community=cop)


@pytest.mark.parametrize("role", ["outsider", "member", "steward", "directory_admin"])
def test_a_managed_community_offers_no_join_or_leave_to_anyone(
    client, linked, role, outsider, member, steward, directory_admin
):
    _group, community = linked
    user = {
        "outsider": outsider,
        "member": member,
        "steward": steward,
        "directory_admin": directory_admin,
    }[role]
    client.force_login(user)
    page = client.get(community.get_absolute_url()).content.decode()
    assert "Membership is managed by Entra ID." in page
    for action in ("membership_join", "membership_leave", "membership_request"):
        assert reverse(f"communities:{action}", args=[community.slug]) not in page
    assert ">Join<" not in page and ">Leave<" not in page


def test_joining_or_leaving_a_managed_community_by_post_is_refused(
    client, linked, outsider, member
):
    _group, community = linked
    before = snapshot()
    client.force_login(outsider)
    client.post(reverse("communities:membership_join", args=[community.slug]))
    client.force_login(member)
    client.post(reverse("communities:membership_leave", args=[community.slug]))
    assert snapshot() == before


def test_the_leave_page_of_a_managed_community_says_who_manages_it(client, linked, member):
    _group, community = linked
    client.force_login(member)
    page = client.get(reverse("communities:membership_leave", args=[community.slug]))
    text = page.content.decode()
    assert "is managed by Entra ID: ask IT to take you out of its group there." in text
    assert 'type="submit"' not in text.split("<main", 1)[-1].split("</main>", 1)[0]


def test_creating_a_group_with_an_unknown_member_is_400_and_creates_nothing(scim):
    before = snapshot()
    response = scim.post("Groups", {**ENTRA_CREATE_GROUP, "members": [{"value": "424242"}]})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert snapshot() == before


@pytest.mark.parametrize("path", [".search", "Users/.search", "Groups/.search", "Bulk", "Me"])
def test_what_is_not_offered_answers_with_a_scim_error(scim, path):
    response = scim.post(path, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})
    assert response.status_code in (404, 501)
    assert response.json()["schemas"] == [ERROR]


def test_too_many_requests_from_one_address_are_429(scim, settings):
    settings.SCIM_RATE_LIMIT = 3
    assert [scim.get("Users").status_code for _ in range(3)] == [200, 200, 200]
    refused = scim.post("Users", OKTA_CREATE_USER)
    assert refused.status_code == 429
    assert refused.json()["scimType"] == "tooMany"
    assert not User.objects.filter(username="test.user@okta.local").exists()


def test_scim_takes_no_csrf_token_and_no_session(token):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/scim/v2/Users",
        data=json.dumps(OKTA_CREATE_USER),
        content_type=SCIM,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize("groups", [2, 20])
def test_groups_list_reads_a_fixed_number_of_queries(
    scim, django_assert_max_num_queries, groups, open_kc
):
    for n in range(groups):
        group = services.save_group(values={"display_name": f"Team {n}"}, provider_name="Okta")
        services.save_group(group=group, values={}, provider_name="Okta", add=[MemberFactory()])
    services.link_group(group=ProvisionedGroup.objects.first(), community=open_kc)
    # Token and its last use; then count, page, department members and community members.
    with django_assert_max_num_queries(8):
        response = scim.get("Groups?count=100")
    resources = response.json()["Resources"]
    assert len(resources) == groups
    assert all(resource["members"] for resource in resources)


def test_stewards_see_that_the_list_is_managed_on_the_manage_page(client, linked, steward):
    _group, community = linked
    client.force_login(steward)
    page = client.get(reverse("communities:community_manage", args=[community.slug]))
    assert "Membership is managed by Entra ID: it adds and removes people" in page.content.decode()
