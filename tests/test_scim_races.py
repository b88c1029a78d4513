"""SCIM writes under real concurrency (threads, each with its own connection, through the
test client): an ``If-Match`` is checked with the resource locked, and a group's roster
changes take the community's lock as every roster service does. PostgreSQL only."""

import json

import pytest
from django.db import connection
from django.test import Client

from communities.models import Membership, MembershipEvent
from provisioning import services
from provisioning.models import ProvisionedGroup

from .factories import MemberFactory, led_kc
from .test_races import run_together

pytestmark = pytest.mark.django_db(transaction=True)

SCIM = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("Race tests need PostgreSQL (set DATABASE_URL); this run uses sqlite.")


@pytest.fixture
def token():
    return services.create_token(name="Okta", created_by=None)[1]


def patch(token, path, operations, **headers):
    def call():
        response = Client().patch(
            f"/scim/v2/{path}",
            data=json.dumps({"schemas": [PATCH_OP], "Operations": operations}),
            content_type=SCIM,
            HTTP_AUTHORIZATION=f"Bearer {token}",
            **headers,
        )
        return response.status_code

    return call


def test_two_writes_with_the_same_if_match_one_wins(token):
    user = MemberFactory().user
    etag = Client().get(f"/scim/v2/Users/{user.pk}", HTTP_AUTHORIZATION=f"Bearer {token}")["ETag"]
    outcomes = run_together(
        [
            patch(
                token,
                f"Users/{user.pk}",
                [{"op": "replace", "path": "title", "value": title}],
                HTTP_IF_MATCH=etag,
            )
            for title in ("Actuary", "Underwriter")
        ]
    )
    assert sorted(value for _outcome, value in outcomes) == [200, 412]


def test_group_adds_at_once_each_person_added_once(token):
    community = led_kc(name="Pricing", slug="pricing")
    group = services.save_group(values={"display_name": "Pricing team"}, provider_name="Okta")
    services.link_group(group=group, community=community)
    group = ProvisionedGroup.objects.get()
    people = [MemberFactory() for _ in range(3)]
    value = [{"value": str(person.user_id)} for person in people]
    outcomes = run_together(
        [patch(token, f"Groups/{group.pk}", [{"op": "add", "path": "members", "value": value}])] * 3
    )
    assert [value for _outcome, value in outcomes] == [200, 200, 200]
    for person in people:
        assert Membership.objects.get(community=community, member=person).state == "active"
        added = MembershipEvent.objects.filter(community=community, target=person)
        assert added.count() == 1
    community.refresh_from_db()
    active = Membership.objects.filter(community=community, state="active").count()
    assert community.active_member_count == active
