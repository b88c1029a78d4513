"""The directory version and what is cached under it (communities/directory_cache.py).

These tests commit (``transactional_db``): the version is bumped at commit, and
nothing is cached inside a transaction, which is where ordinary tests run.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from communities import access, directory_cache, services
from communities.backends import MemberBackend
from communities.models import Community, DirectoryVersion, Membership, Purpose
from members.models import Department, Member

from .factories import CommunityFactory, PurposeFactory, led_kc, member_named
from .pages import unmasked

pytestmark = pytest.mark.django_db(transaction=True)


def version() -> int:
    return DirectoryVersion.objects.get(pk=1).number


@pytest.fixture
def kc():
    kc = led_kc(
        sponsor=member_named("Spencer Sponsor"),
        steward=member_named("Stella Steward", username="steward"),
        name="Claims Turnaround",
        slug="claims-turnaround",
        join_policy=Community.JoinPolicy.OPEN,
    )
    assert DirectoryVersion.objects.filter(pk=1).exists()
    return kc


@pytest.fixture
def reader():
    return member_named("Rhea Reader", username="reader")


def change_name(kc):
    Community.objects.filter(pk=kc.pk).update(name="Renamed")


def raw_insert_purpose(kc):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO communities_purpose (statement, slug, orientation, description, "
            "created_at) VALUES ('Raw', 'raw', 'shape_future', '', CURRENT_TIMESTAMP)"
        )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda kc: kc.save(), id="model save (the admin)"),
        pytest.param(change_name, id="queryset update"),
        pytest.param(lambda kc: kc.purposes.add(PurposeFactory()), id="purposes added"),
        pytest.param(lambda kc: Purpose.objects.update(statement="x"), id="purpose edited"),
        pytest.param(raw_insert_purpose, id="raw SQL"),
        pytest.param(
            lambda kc: services.join_community(community=kc, member=member_named("New One")),
            id="a service (join)",
        ),
        pytest.param(
            lambda kc: Membership.objects.filter(community=kc).delete(), id="memberships deleted"
        ),
        pytest.param(lambda kc: Member.objects.update(display_name="Renamed"), id="member renamed"),
        pytest.param(
            lambda kc: Department.objects.create(name="New", slug="new"), id="department added"
        ),
    ],
)
def test_every_kind_of_write_bumps_the_version(kc, change):
    before = version()
    change(kc)
    assert version() > before


def test_a_rolled_back_change_leaves_the_version_alone(kc):
    before = version()
    with pytest.raises(RuntimeError), transaction.atomic():
        change_name(kc)
        raise RuntimeError
    assert version() == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bumped per row on SQLite")
def test_postgresql_bumps_once_per_transaction_at_commit(kc):
    before = version()
    with transaction.atomic():
        change_name(kc)
        Purpose.objects.create(statement="One", slug="one", orientation="shape_future")
        Purpose.objects.create(statement="Two", slug="two", orientation="shape_future")
        # Not yet: the bump is deferred to the commit, with the changes it stands for.
        assert version() == before
    assert version() == before + 1


def test_nothing_is_cached_inside_a_transaction(kc, rf):
    calls = []
    request = rf.get("/")
    with transaction.atomic():
        for _ in range(2):
            directory_cache.cached(request, "t", (), lambda: calls.append(1))
    assert len(calls) == 2


def test_cached_until_the_directory_changes(kc, rf):
    calls = []

    def render():
        calls.append(1)
        return len(calls)

    assert directory_cache.cached(rf.get("/"), "t", ("a",), render) == 1
    assert directory_cache.cached(rf.get("/"), "t", ("a",), render) == 1
    assert directory_cache.cached(rf.get("/"), "t", ("b",), render) == 2
    change_name(kc)
    assert directory_cache.cached(rf.get("/"), "t", ("a",), render) == 3


def test_caching_can_be_turned_off(kc, rf, settings):
    settings.DIRECTORY_CACHE_SECONDS = 0
    calls = []
    for _ in range(2):
        directory_cache.cached(rf.get("/"), "t", (), lambda: calls.append(1))
    assert len(calls) == 2


def test_the_directory_page_is_drawn_once_and_shows_every_change(kc, reader, client):
    client.force_login(reader.user)
    first = client.get("/").content.decode()
    assert "Claims Turnaround" in first and "2 members" in first
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/").content.decode()
    assert unmasked(again) == unmasked(first)
    # The user (with member and admin flag), the version: no community queries.
    assert not any("communities_community" in q["sql"] for q in queries.captured_queries)

    services.join_community(community=kc, member=reader)
    assert "3 members" in client.get("/").content.decode()
    change_name(kc)
    page = client.get("/").content.decode()
    assert "Renamed" in page and "Claims Turnaround" not in page


def test_each_query_string_is_its_own_page(kc, reader, client):
    CommunityFactory(name="Pricing Guild", slug="pricing-guild")
    client.force_login(reader.user)
    assert "Pricing Guild" not in client.get("/?q=claims").content.decode()
    assert "Pricing Guild" in client.get("/?q=pricing").content.decode()


def test_the_navbar_count_follows_new_requests(reader, client):
    kc = led_kc(
        sponsor=member_named("Rita Sponsor"),
        steward=reader,
        name="Climate Risk",
        slug="climate-risk",
        join_policy=Community.JoinPolicy.REQUEST,
    )
    client.force_login(reader.user)
    assert "requests waiting for you" not in client.get("/").content.decode()
    services.request_membership(community=kc, member=member_named("Asking Person"))
    assert '1<span class="visually-hidden"> requests waiting for you' in (
        client.get("/").content.decode()
    )


def test_directory_admin_buttons_are_not_cached_for_others(kc, reader, client, directory_admin):
    client.force_login(directory_admin)
    assert "Export CSV" in client.get("/").content.decode()
    client.force_login(reader.user)
    assert "Export CSV" not in client.get("/").content.decode()


# -- the user, member and admin flag in one query (communities/backends.py) ---------------


def test_backend_loads_user_member_and_admin_flag_in_one_query(kc, directory_admin):
    with CaptureQueriesContext(connection) as queries:
        user = MemberBackend().get_user(directory_admin.pk)
        assert user.member.display_name == "Dana Admin"
        assert user.member.user is user
        assert access.is_directory_admin(user) is True
        assert user.date_joined.tzinfo is not None
        assert user.member.created_at.tzinfo is not None
    assert len(queries) == 1
    assert user == directory_admin and user.member == directory_admin.member


def test_backend_flags_and_refusals(kc, reader):
    user = MemberBackend().get_user(reader.user.pk)
    with CaptureQueriesContext(connection) as queries:
        assert access.is_directory_admin(user) is False
    assert len(queries) == 0
    assert MemberBackend().get_user(999_999) is None
    assert MemberBackend().get_user("not a number") is None
    get_user_model().objects.filter(pk=reader.user.pk).update(is_active=False)
    assert MemberBackend().get_user(reader.user.pk) is None


def test_backend_user_without_member_gets_one_on_first_use(client):
    user = get_user_model().objects.create_user("newcomer", password="x" * 12)
    loaded = MemberBackend().get_user(user.pk)
    with pytest.raises(Member.DoesNotExist):
        loaded.member  # noqa: B018
    client.force_login(user)
    assert client.get("/").status_code == 200
    assert Member.objects.filter(user=user).exists()


def test_the_roster_is_drawn_once_and_shows_every_change(kc, reader, client):
    joiner = member_named("Jo Joiner")
    client.force_login(reader.user)
    url = kc.get_absolute_url()
    first = client.get(url).content.decode()
    assert "Stella Steward" in first and "Jo Joiner" not in first
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    assert not any("ORDER BY CASE" in q["sql"] for q in queries.captured_queries)

    services.join_community(community=kc, member=joiner)
    assert "Jo Joiner" in client.get(url).content.decode()
    Member.objects.filter(pk=joiner.pk).update(display_name="Jo Renamed")
    assert "Jo Renamed" in client.get(url).content.decode()
    # A search is its own entry.
    page = client.get(url, {"q": "stella"}).content.decode()
    assert "Stella Steward" in page and "Jo Renamed" not in page


# -- community cards, cached by what they show (communities/cards.py) ---------------------


def test_after_a_change_only_the_changed_card_is_drawn_again(kc, reader, client, monkeypatch):
    from communities import cards

    other = CommunityFactory(name="Pricing Guild", slug="pricing-guild")
    drawn = []
    real = cards.render_to_string
    monkeypatch.setattr(
        cards,
        "render_to_string",
        lambda name, context: drawn.append(context["community"].slug) or real(name, context),
    )
    client.force_login(reader.user)
    client.get("/")
    assert sorted(drawn) == ["claims-turnaround", "pricing-guild"]

    drawn.clear()
    Member.objects.filter(pk=kc.memberships.get(role="steward").member_id).update(
        display_name="Stella Renamed"
    )
    page = client.get("/").content.decode()
    assert drawn == ["claims-turnaround"]  # the steward shown on its card changed
    assert "Stella Renamed" in page and "Pricing Guild" in page

    drawn.clear()
    Community.objects.filter(pk=other.pk).update(summary="Prices that hold.")
    assert "Prices that hold." in client.get("/").content.decode()
    assert drawn == ["pricing-guild"]


@pytest.mark.parametrize(
    "change, shown",
    [
        (
            lambda kc: Community.objects.filter(pk=kc.pk).update(stage="community"),
            '<span class="badge text-bg-light border">Community</span>',
        ),
        (lambda kc: Community.objects.filter(pk=kc.pk).update(status="dormant"), "Dormant"),
        (lambda kc: kc.purposes.add(PurposeFactory(statement="Faster claims")), "Faster claims"),
        (
            lambda kc: services.join_community(community=kc, member=member_named("New One")),
            "3 members",
        ),
    ],
)
def test_a_card_shows_every_change_to_what_it_shows(kc, reader, client, change, shown):
    client.force_login(reader.user)
    assert shown not in client.get("/").content.decode()
    change(kc)
    assert shown in client.get("/").content.decode()
