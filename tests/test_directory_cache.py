"""The directory version and what is cached under it (communities/caching.py).

These tests commit (``transactional_db``): the version is bumped at commit, and
nothing is cached inside a transaction, which is where ordinary tests run.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from communities import access, caching, selectors, services
from communities.backends import MemberBackend
from communities.models import Community, DirectoryVersion, Membership, Purpose
from members.models import Department, Member

from .factories import CommunityFactory, MembershipFactory, PurposeFactory, led_kc, member_named
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


def test_nothing_is_cached_inside_a_transaction(kc):
    calls = []
    with transaction.atomic():
        for _ in range(2):
            caching.versioned("t", (), lambda: calls.append(1))
    assert len(calls) == 2


def test_cached_until_the_directory_changes(kc):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert caching.versioned("t", ("a",), compute) == 1
    assert caching.versioned("t", ("a",), compute) == 1
    assert caching.versioned("t", ("b",), compute) == 2
    change_name(kc)
    assert caching.versioned("t", ("a",), compute) == 3


def test_caching_can_be_turned_off(kc, settings):
    settings.DIRECTORY_CACHE_SECONDS = 0
    calls = []
    for _ in range(2):
        caching.versioned("t", (), lambda: calls.append(1))
    assert len(calls) == 2


def test_one_key_scheme_whatever_the_order_of_a_query_string():
    from django.http import QueryDict

    key = caching.cache_key("directory", QueryDict("q=claims&kind=kc"))
    assert key == caching.cache_key("directory", QueryDict("kind=kc&q=claims"))
    assert re.fullmatch(r"kcdir:directory:en:[0-9a-f]{32}", key)
    assert key != caching.cache_key("directory", QueryDict("kind=cop&q=claims"))


def test_the_version_is_read_once_per_request(kc, reader, client):
    """The directory section and the navbar count share one read of the version."""
    client.force_login(reader.user)
    client.get("/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    version_reads = [q for q in queries.captured_queries if "directoryversion" in q["sql"]]
    assert len(version_reads) == 1


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


# -- community cards, cached by what they show (communities/selectors.with_cards) ----------


@pytest.fixture
def cards_drawn(monkeypatch) -> list[str]:
    """The communities whose card was drawn (rather than taken from the cache), in the
    order drawn, since the test began: what ``selectors.card_data`` was asked for."""
    drawn = []
    card_data = selectors.card_data

    def recorded(community, page):
        drawn.append(community.slug)
        return card_data(community, page)

    monkeypatch.setattr(selectors, "card_data", recorded)
    return drawn


def drawn_by(cards_drawn: list[str], response) -> list[str]:
    """The cards drawn for ``response`` (the last request): taken off the list."""
    assert response.status_code == 200
    drawn = list(cards_drawn)
    cards_drawn.clear()
    return drawn


def test_after_a_change_only_the_changed_card_is_drawn_again(kc, reader, client, cards_drawn):
    other = CommunityFactory(name="Pricing Guild", slug="pricing-guild")
    client.force_login(reader.user)
    assert sorted(drawn_by(cards_drawn, client.get("/"))) == ["claims-turnaround", "pricing-guild"]

    Member.objects.filter(pk=kc.memberships.get(role="steward").member_id).update(
        display_name="Stella Renamed"
    )
    response = client.get("/")
    assert drawn_by(cards_drawn, response) == ["claims-turnaround"]  # the steward shown changed
    page = response.content.decode()
    assert "Stella Renamed" in page and "Pricing Guild" in page

    Community.objects.filter(pk=other.pk).update(summary="Prices that hold.")
    response = client.get("/")
    assert "Prices that hold." in response.content.decode()
    assert drawn_by(cards_drawn, response) == ["pricing-guild"]


@pytest.mark.parametrize(
    "change, shown",
    [
        (
            lambda kc: Community.objects.filter(pk=kc.pk).update(stage="community"),
            '<span class="badge text-bg-light border">Community</span>',
        ),
        (
            lambda kc: Community.objects.filter(pk=kc.pk).update(status="dormant"),
            '<span class="badge text-bg-warning">Dormant</span>',  # "Dormant" is a filter too
        ),
        (
            lambda kc: Community.objects.filter(pk=kc.pk).update(join_policy="invite"),
            '<span class="badge text-bg-light border join-policy">By invitation</span>',
        ),
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


# -- every table a cached section shows bumps the version ---------------------------------


def steward_user():
    return get_user_model().objects.get(username="steward")


def mos_user():
    """Mo, on the list but shown nowhere else on the community's page (unlike its
    sponsor and stewards, whom its header names)."""
    return get_user_model().objects.filter(username="mo")


def set_email_by_save(kc):
    user = mos_user().get()
    user.email = "mo@changed.example"
    user.save()  # as the admin saves a user: every column written


def rename_department(kc):
    department = Member.objects.get(display_name="Mo Member").department
    Department.objects.filter(pk=department.pk).update(name="Renamed Department")


def replace_purposes(kc):
    kc.purposes.set([PurposeFactory(statement="A purpose added later")])


# A query that reads departments for what it draws: the sections' own reads (the people
# list, which is not cached, reads them only joined to people).
DEPARTMENTS_READ = re.compile(
    r'SELECT .*"members_department"\."name"(?!.*FROM "members_member")', re.S
)

SECTIONS = {
    "directory": lambda kc: "/",
    "roster": lambda kc: kc.get_absolute_url(),
    "manage": lambda kc: f"/c/{kc.slug}/manage/",
    "people": lambda kc: "/people/",
}


@pytest.mark.parametrize(
    "section, change, shown",
    [
        pytest.param(
            "manage",
            lambda kc: mos_user().update(email="mo@changed.example"),
            "mo@changed.example",
            id="users: email (manage)",
        ),
        pytest.param("manage", set_email_by_save, "mo@changed.example", id="users: saved (manage)"),
        pytest.param(
            "roster",
            lambda kc: mos_user().update(username="mo.new"),
            "/people/mo.new/",
            id="users: username (roster)",
        ),
        pytest.param(
            "manage",
            lambda kc: mos_user().update(username="mo.new"),
            "/people/mo.new/",
            id="users: username (manage)",
        ),
        pytest.param("roster", rename_department, "Renamed Department", id="departments (roster)"),
        pytest.param("manage", rename_department, "Renamed Department", id="departments (manage)"),
        pytest.param(
            "people",
            lambda kc: Department.objects.create(name="Brand New Unit", slug="brand-new"),
            "Brand New Unit",
            id="departments (people's menu)",
        ),
        pytest.param(
            "directory",
            lambda kc: Purpose.objects.filter(communities=kc).update(statement="Edited purpose"),
            "Edited purpose",
            id="purposes (directory)",
        ),
        pytest.param(
            "directory",
            replace_purposes,
            "A purpose added later",
            id="community purposes (directory)",
        ),
        pytest.param(
            "directory",
            lambda kc: Member.objects.filter(display_name="Stella Steward").update(
                display_name="Stella Renamed"
            ),
            "Stella Renamed",
            id="members (directory)",
        ),
        pytest.param(
            "roster",
            lambda kc: Member.objects.filter(display_name="Stella Steward").update(
                job_title="Chief Turnaround Officer"
            ),
            "Chief Turnaround Officer",
            id="members (roster)",
        ),
    ],
)
def test_a_cached_section_shows_a_change_to_any_table_it_draws_from(
    kc, client, section, change, shown
):
    MembershipFactory(community=kc, member=member_named("Mo Member", username="mo"))
    client.force_login(steward_user())
    url = SECTIONS[section](kc)
    assert shown not in client.get(url).content.decode()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    # Served from the cache: the departments (which every section draws) are not read.
    assert not any(DEPARTMENTS_READ.match(q["sql"]) for q in queries.captured_queries)

    change(kc)

    assert shown in client.get(url).content.decode()


def test_signing_in_leaves_the_version_alone(kc, client):
    before = version()
    client.force_login(steward_user())  # sets last_login
    user = steward_user()
    user.set_password("a new password, long enough")
    user.save()
    assert version() == before


def test_deactivating_a_user_bumps_the_version(kc):
    MembershipFactory(community=kc, member=member_named("Mo Member", username="mo"))
    before = version()
    mos_user().update(is_active=False)
    assert version() > before


@pytest.mark.parametrize("repeat", [1, 2], ids=["drawn", "from the cache"])
def test_the_directory_keeps_the_search_and_filters_it_shows(kc, reader, client, repeat):
    client.force_login(reader.user)
    for _ in range(repeat):
        page = client.get("/", {"q": " claims ", "kind": "kc"}).content.decode()
    assert 'name="q" id="id_q" value="claims"' in page
    assert '<option value="kc" selected>' in page
