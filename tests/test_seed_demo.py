"""``manage.py seed_demo``: a believable, idempotent demo organisation."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, Q
from django.test import override_settings
from django.urls import reverse

from communities import access, overlaps
from communities.models import Community, Membership, MembershipEvent, Purpose
from members.models import Department, Member

from .factories import CommunityFactory

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = "demo-password-for-tests"


@pytest.fixture
def demo_settings(settings):
    settings.DEBUG = True
    settings.KCDIR_DEMO_PASSWORD = DEMO_PASSWORD
    return settings


@pytest.fixture(scope="class")
def seeded_once(django_db_setup, django_db_blocker):
    """One seeding shared by a class of read-only tests (seeding is the slow part).

    It runs inside a transaction that is rolled back after the class; each test's
    own transaction nests inside it as a savepoint, so tests still cannot leak
    into each other or into the rest of the suite.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(
            DEBUG=True,
            KCDIR_DEMO_PASSWORD=DEMO_PASSWORD,
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ):
            call_command("seed_demo", stdout=StringIO())
        yield
        transaction.set_rollback(True)


def row_counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "members": Member.objects.count(),
        "departments": Department.objects.count(),
        "purposes": Purpose.objects.count(),
        "communities": Community.objects.count(),
        "community purposes": Community.purposes.through.objects.count(),
        "memberships": Membership.objects.count(),
        "events": MembershipEvent.objects.count(),
        "directory admins": Group.objects.get(name=access.DIRECTORY_ADMINS_GROUP)
        .user_set.all()
        .count(),
    }


@pytest.mark.usefixtures("seeded_once")
class TestSeededDemo:
    """What one run of ``seed_demo`` leaves in the database."""

    def test_seed_creates_departments_people_purposes_and_communities(self):
        assert Department.objects.count() >= 8
        assert Member.objects.count() >= 300
        assert Purpose.objects.count() == 25
        assert Community.objects.listed().count() == 40

    def test_seed_covers_both_kinds_every_stage_and_policy_and_some_archived(self):
        communities = Community.objects.all()

        assert set(communities.values_list("kind", flat=True)) == set(Community.Kind.values)
        assert set(communities.values_list("stage", flat=True)) == set(Community.Stage.values)
        assert set(communities.values_list("join_policy", flat=True)) == set(
            Community.JoinPolicy.values
        )
        assert communities.filter(status=Community.Status.ARCHIVED).count() >= 2
        assert communities.filter(status=Community.Status.DORMANT).count() >= 1
        assert communities.filter(status=Community.Status.ACTIVE).count() >= 30

    def test_seed_has_memberships_in_every_role_and_state(self):
        memberships = Membership.objects.all()

        assert set(memberships.values_list("role", flat=True)) == set(Membership.Role.values)
        assert set(memberships.values_list("state", flat=True)) == set(Membership.State.values)

    def test_seeded_shared_people_are_stored_as_counted(self):
        assert overlaps.stored() == overlaps.counted() != {}

    def test_seeded_active_kcs_keep_the_invariants(self):
        active = Q(memberships__state=Membership.State.ACTIVE)
        active_kcs = Community.objects.filter(
            kind=Community.Kind.KC, status=Community.Status.ACTIVE
        ).annotate(
            sponsor_count=Count("memberships", filter=active & Q(memberships__role="sponsor")),
            steward_count=Count("memberships", filter=active & Q(memberships__role="steward")),
        )
        shaping = set(
            Community.objects.filter(
                purposes__orientation=Purpose.Orientation.SHAPE_FUTURE
            ).values_list("pk", flat=True)
        )

        assert active_kcs.count() >= 15
        for kc in active_kcs:
            assert kc.sponsor_count == 1, kc.name
            assert kc.steward_count >= 1, kc.name
            assert kc.pk in shaping, kc.name

    def test_seeded_kcs_formed_from_name_a_community_of_practice(self):
        formed = Community.objects.exclude(formed_from=None).select_related("formed_from")

        assert formed.count() >= 2
        assert {c.formed_from.kind for c in formed} == {Community.Kind.COP}
        assert all(c.kind == Community.Kind.KC for c in formed)

    def test_seed_creates_the_demo_accounts(self):
        User = get_user_model()
        admin = User.objects.get(username="admin")
        steward = Member.objects.get(user__username="steward")
        staff = Member.objects.get(user__username="staff")

        assert admin.is_superuser and admin.is_staff
        assert admin.groups.filter(name=access.DIRECTORY_ADMINS_GROUP).exists()
        assert access.is_directory_admin(admin)
        assert steward.memberships.filter(
            role=Membership.Role.STEWARD,
            state=Membership.State.ACTIVE,
            community__kind=Community.Kind.KC,
        ).exists()
        assert not staff.user.is_staff
        assert set(staff.memberships.values_list("state", flat=True)) >= {
            Membership.State.ACTIVE,
            Membership.State.REQUESTED,
            Membership.State.INVITED,
        }

    @pytest.mark.parametrize("username", ["admin", "steward", "staff"])
    def test_demo_accounts_sign_in_with_the_configured_password(self, client, username):
        refused = client.post(reverse("login"), {"username": username, "password": "kcdir-demo"})
        assert "_auth_user_id" not in client.session
        assert refused.status_code == 200

        response = client.post(reverse("login"), {"username": username, "password": DEMO_PASSWORD})

        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(
            get_user_model().objects.get(username=username).pk
        )
        assert client.get(reverse("communities:community_list")).status_code == 200

    def test_seeding_twice_changes_no_counts(self, demo_settings):
        before = row_counts()

        call_command("seed_demo", stdout=StringIO())

        assert row_counts() == before

    def test_every_membership_state_is_explained_by_its_latest_event(self):
        latest = {}
        for event in MembershipEvent.objects.order_by("created_at", "pk").values(
            "community_id", "target_id", "state_after", "role_after"
        ):
            latest[(event["community_id"], event["target_id"])] = (
                event["state_after"],
                event["role_after"],
            )

        unexplained = [
            (m["community_id"], m["member_id"], m["state"])
            for m in Membership.objects.values("community_id", "member_id", "state", "role")
            if latest.get((m["community_id"], m["member_id"])) != (m["state"], m["role"])
        ]
        assert Membership.objects.count() > 1000
        assert unexplained == []

    def test_every_event_belongs_to_a_membership(self):
        pairs = set(Membership.objects.values_list("community_id", "member_id"))

        orphans = MembershipEvent.objects.exclude(target=None).values_list(
            "community_id", "target_id"
        )
        assert set(orphans) <= pairs


def test_seed_refuses_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo", stdout=StringIO())

    assert Community.objects.count() == 0
    assert Member.objects.count() == 0


def test_seed_runs_with_debug_off_when_forced(settings):
    settings.DEBUG = False

    call_command("seed_demo", "--force", stdout=StringIO())

    assert Community.objects.listed().count() == 40


def test_if_empty_does_nothing_when_communities_exist(demo_settings):
    CommunityFactory(name="Already Here")
    out = StringIO()

    call_command("seed_demo", "--if-empty", stdout=out)

    assert list(Community.objects.values_list("name", flat=True)) == ["Already Here"]
    assert not get_user_model().objects.filter(username="admin").exists()
    assert "already has communities" in out.getvalue()


def test_if_empty_seeds_an_empty_directory(demo_settings):
    call_command("seed_demo", "--if-empty", stdout=StringIO())

    assert Community.objects.listed().count() == 40
