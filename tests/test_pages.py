"""Every page, through the test client: who may see it and what it shows."""

import html
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from communities.models import Community, Membership, Purpose

from .factories import (
    PASSWORD,
    CommunityFactory,
    DepartmentFactory,
    MembershipFactory,
    PurposeFactory,
    UserFactory,
    member_named,
)
from .pages import page_html

pytestmark = pytest.mark.django_db

DIRECTORY = reverse("communities:community_list")
LOGIN = reverse("login")


def hrefs(response) -> list[str]:
    return [html.unescape(href) for href in re.findall(r'href="([^"]*)"', page_html(response))]


def listed_names(response) -> list[str]:
    """Names of the objects on the page, in the order shown."""
    return [str(obj) for obj in response.context["page_obj"]]


def roster_names(response) -> list[str]:
    return [m.member.display_name for m in response.context["roster_page"]]


@pytest.fixture
def signed_in(client, staff):
    client.force_login(staff)
    return client


# Every page: anonymous is sent to sign in; staff see the content ------------


@pytest.fixture
def page_urls(open_kc, steward):
    purpose = open_kc.purposes.get()
    return {
        "communities:community_list": reverse("communities:community_list"),
        "communities:community_detail": open_kc.get_absolute_url(),
        "communities:purpose_list": reverse("communities:purpose_list"),
        "communities:purpose_detail": purpose.get_absolute_url(),
        "members:member_list": reverse("members:member_list"),
        "members:member_detail": reverse("members:member_detail", args=[steward.username]),
        "members:my_communities": reverse("members:my_communities"),
        "members:profile_edit": reverse("members:profile_edit"),
        "password_change": reverse("password_change"),
    }


# What a signed-in staff member must find on each page (names in the HTML).
EXPECTED_CONTENT = {
    "communities:community_list": ["Community directory", "Claims Turnaround"],
    "communities:community_detail": ["Claims Turnaround", "Spencer Sponsor", "Stella Steward"],
    "communities:purpose_list": ["Cut claim turnaround to two days"],
    "communities:purpose_detail": ["Cut claim turnaround to two days", "Claims Turnaround"],
    "members:member_list": ["Spencer Sponsor", "Stella Steward", "Sam Staff"],
    "members:member_detail": ["Stella Steward", "Claims Turnaround"],
    "members:my_communities": ["My communities", "You are not in any community yet."],
    "members:profile_edit": ["Edit profile", 'value="Sam Staff"'],
    "password_change": ["Change password", "Old password"],
}


@pytest.mark.parametrize("url_name", list(EXPECTED_CONTENT))
def test_anonymous_visitor_is_sent_to_sign_in_with_next(client, page_urls, url_name):
    url = page_urls[url_name]

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{LOGIN}?next={url}"


@pytest.mark.parametrize("url_name", list(EXPECTED_CONTENT))
def test_staff_see_each_page_with_its_content(signed_in, page_urls, url_name):
    response = signed_in.get(page_urls[url_name])

    assert response.status_code == 200
    for expected in EXPECTED_CONTENT[url_name]:
        assert expected in page_html(response)


# The directory: search ------------------------------------------------------


@pytest.fixture
def directory(open_kc, request_kc, cop):
    """Three listed communities, one hidden proposal, and a KC found only by
    its purpose's statement."""
    CommunityFactory(name="Secret Plans", summary="claims proposal", status="proposed")
    CommunityFactory(
        name="Legacy Exit",
        summary="Moving policy administration elsewhere.",
        stage=Community.Stage.COMMON_GOOD,
        purposes=[PurposeFactory(statement="Retire the mainframe by 2028", slug="retire")],
    )
    return {"open_kc": open_kc, "request_kc": request_kc, "cop": cop}


def test_directory_lists_every_listed_community_by_name(signed_in, directory):
    response = signed_in.get(DIRECTORY)

    assert listed_names(response) == [
        "Claims Turnaround",
        "Climate Risk Pricing",
        "Legacy Exit",
        "SQL Clinic",
    ]
    assert "Secret Plans" not in page_html(response)


def test_search_narrows_by_name(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"q": "clinic"})

    assert listed_names(response) == ["SQL Clinic"]
    assert "1 community" in page_html(response)


def test_search_narrows_by_summary(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"q": "commercial underwriting"})

    assert listed_names(response) == ["Climate Risk Pricing"]


def test_search_narrows_by_purpose_statement(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"q": "retire the MAINFRAME"})

    assert listed_names(response) == ["Legacy Exit"]


def test_search_never_finds_proposed_communities(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"q": "proposal"})

    assert listed_names(response) == []


def test_search_from_the_navbar_box_is_kept_in_the_box(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"q": "clinic"})

    assert re.search(r'<input[^>]*name="q"[^>]*value="clinic"', page_html(response))


# The directory: filters -----------------------------------------------------


def test_kind_filter_narrows_to_communities_of_practice(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"kind": "cop"})

    assert listed_names(response) == ["SQL Clinic"]


def test_kind_filter_narrows_to_knowledge_communities(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"kind": "kc"})

    assert listed_names(response) == ["Claims Turnaround", "Climate Risk Pricing", "Legacy Exit"]


def test_stage_filter_narrows(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"stage": "cooperation"})

    assert listed_names(response) == ["Climate Risk Pricing", "SQL Clinic"]


def test_purpose_filter_narrows(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"purpose": "cut-claim-turnaround"})

    assert listed_names(response) == ["Claims Turnaround"]


def test_department_filter_narrows_to_communities_with_active_people_from_it(signed_in, directory):
    actuaries = DepartmentFactory(name="Actuarial", slug="actuarial")
    MembershipFactory(community=directory["cop"], member__department=actuaries)
    MembershipFactory(
        community=directory["request_kc"],
        member__department=actuaries,
        state=Membership.State.LEFT,
    )

    response = signed_in.get(DIRECTORY, {"department": "actuarial"})

    assert listed_names(response) == ["SQL Clinic"]


def test_filters_combine(signed_in, directory):
    both = signed_in.get(DIRECTORY, {"kind": "kc", "stage": "cooperation"})
    with_search = signed_in.get(DIRECTORY, {"kind": "cop", "q": "claims"})

    assert listed_names(both) == ["Climate Risk Pricing"]
    assert listed_names(with_search) == []


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "wizard"},
        {"stage": "enlightenment"},
        {"purpose": "no-such-purpose"},
        {"department": "no-such-department"},
        {"sort": "random"},
        {"colour": "blue"},
        {"kind": "\x00", "stage": "\x00", "purpose": "\x00", "department": "\x00"},
    ],
)
def test_unknown_filter_value_is_ignored(signed_in, directory, params):
    response = signed_in.get(DIRECTORY, params)

    assert response.status_code == 200
    assert listed_names(response) == [
        "Claims Turnaround",
        "Climate Risk Pricing",
        "Legacy Exit",
        "SQL Clinic",
    ]


def test_empty_state_says_nothing_matches(signed_in, directory):
    response = signed_in.get(DIRECTORY, {"q": "underwater basket weaving"})

    assert listed_names(response) == []
    assert "No community matches." in page_html(response)
    assert "Show every community" in page_html(response)


def test_empty_directory_says_so(signed_in):
    response = signed_in.get(DIRECTORY)

    assert "The directory is empty." in page_html(response)
    assert "No community matches." not in page_html(response)


# The directory: sorting -----------------------------------------------------


@pytest.fixture
def three_sized_communities(db):
    now = timezone.now()
    small = CommunityFactory(name="Alpha Small", created_at=now - timedelta(days=1))
    large = CommunityFactory(name="Bravo Large", created_at=now - timedelta(days=300))
    empty = CommunityFactory(name="Charlie Empty", created_at=now - timedelta(days=30))
    MembershipFactory(community=small)
    MembershipFactory.create_batch(3, community=large)
    MembershipFactory.create_batch(5, community=empty, state=Membership.State.LEFT)
    return small, large, empty


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Alpha Small", "Bravo Large", "Charlie Empty"]),
        ("", ["Alpha Small", "Bravo Large", "Charlie Empty"]),
        ("newest", ["Alpha Small", "Charlie Empty", "Bravo Large"]),
        ("members", ["Bravo Large", "Alpha Small", "Charlie Empty"]),
    ],
)
def test_sort_orders_results(signed_in, three_sized_communities, sort, expected):
    response = signed_in.get(DIRECTORY, {"sort": sort})

    assert listed_names(response) == expected


def test_member_counts_on_cards_count_only_active_members(signed_in, three_sized_communities):
    response = signed_in.get(DIRECTORY, {"sort": "members"})

    counts = {c.name: c.active_member_count or 0 for c in response.context["page_obj"]}
    assert counts == {"Bravo Large": 3, "Alpha Small": 1, "Charlie Empty": 0}
    assert "3 members" in page_html(response)
    assert "1 member" in page_html(response)


# The directory: pagination --------------------------------------------------


@pytest.fixture
def five_kcs_and_a_cop(settings, db):
    settings.PAGE_SIZE = 2
    for letter in "ABCDE":
        CommunityFactory(name=f"KC {letter}", kind=Community.Kind.KC)
    CommunityFactory(name="CoP Z", kind=Community.Kind.COP)


def test_pagination_links_keep_the_filters(signed_in, five_kcs_and_a_cop):
    response = signed_in.get(DIRECTORY, {"kind": "kc"})

    assert listed_names(response) == ["KC A", "KC B"]
    links = hrefs(response)
    assert "?kind=kc&page=2" in links
    assert "?kind=kc&page=3" in links
    assert not any("page=4" in link for link in links)


def test_second_page_continues_the_filtered_results(signed_in, five_kcs_and_a_cop):
    second = signed_in.get(DIRECTORY, {"kind": "kc", "page": "2"})
    third = signed_in.get(DIRECTORY, {"kind": "kc", "page": "3"})

    assert listed_names(second) == ["KC C", "KC D"]
    assert listed_names(third) == ["KC E"]
    assert "?kind=kc&page=1" in hrefs(third)


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("abc", ["KC A", "KC B"]),
        ("", ["KC A", "KC B"]),
        ("99999", ["KC E"]),
        ("-1", ["KC E"]),
        ("0", ["KC E"]),
        ("1.5", ["KC A", "KC B"]),
        ("\x00", ["KC A", "KC B"]),
    ],
)
def test_bad_page_numbers_fall_back_to_a_real_page(signed_in, five_kcs_and_a_cop, page, expected):
    response = signed_in.get(DIRECTORY, {"kind": "kc", "page": page})

    assert response.status_code == 200
    assert listed_names(response) == expected


# Odd search strings never break a search page -------------------------------


@pytest.fixture
def oddly_named(db):
    CommunityFactory(name="100% Renewable")
    CommunityFactory(name="Coffee ☕ Club")
    CommunityFactory(name="Plain Language")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("plain\x00", ["Plain Language"]),
        ("\x00", ["100% Renewable", "Coffee ☕ Club", "Plain Language"]),
        ("x" * 10_000, []),
        ("' OR 1=1 --", []),
        ('"; DROP TABLE communities_community; --', []),
        ("%", ["100% Renewable"]),
        ("_", []),
        ("☕", ["Coffee ☕ Club"]),
        ("\\", []),
        ("   plain   ", ["Plain Language"]),
    ],
    ids=[
        "nul-byte",
        "only-nul",
        "10k-chars",
        "sql-or",
        "sql-drop",
        "percent",
        "underscore",
        "emoji",
        "backslash",
        "padded",
    ],
)
def test_odd_directory_searches_are_literal_and_never_fail(signed_in, oddly_named, query, expected):
    response = signed_in.get(DIRECTORY, {"q": query})

    assert response.status_code == 200
    assert listed_names(response) == expected
    assert Community.objects.count() == 3


ODD_QUERIES = ["\x00", "x" * 10_000, "' OR 1=1 --", "%", "_", "☕", "\\"]


@pytest.mark.parametrize("query", ODD_QUERIES)
@pytest.mark.parametrize(
    "url_name",
    ["communities:purpose_list", "members:member_list", "communities:community_detail"],
)
def test_odd_searches_on_other_search_pages_never_fail(signed_in, open_kc, url_name, query):
    if url_name == "communities:community_detail":
        url = open_kc.get_absolute_url()
    else:
        url = reverse(url_name)

    response = signed_in.get(url, {"q": query, "page": query})

    assert response.status_code == 200


@pytest.mark.parametrize("username", ["nobody", "' OR 1=1 --", "☕", "%", "x" * 500])
def test_unknown_or_odd_username_is_not_found(signed_in, username):
    response = signed_in.get(f"/people/{quote(username)}/")

    assert response.status_code == 404


def test_username_with_nul_byte_is_not_found(signed_in):
    response = signed_in.get("/people/%00/")

    assert response.status_code == 404


# Community detail -----------------------------------------------------------


def test_knowledge_community_shows_membership_list(signed_in, open_kc):
    response = signed_in.get(open_kc.get_absolute_url())

    assert "Membership list" in page_html(response)
    assert "People who practise here" not in page_html(response)
    assert roster_names(response) == ["Spencer Sponsor", "Stella Steward"]


def test_community_of_practice_shows_people_who_practise_here(signed_in, cop):
    response = signed_in.get(cop.get_absolute_url())

    assert "People who practise here" in page_html(response)
    assert "Membership list" not in page_html(response)
    assert roster_names(response) == ["Cora Coordinator"]
    assert "Coordinator" in page_html(response)


def test_community_detail_names_sponsor_stewards_and_purposes(signed_in, open_kc):
    response = signed_in.get(open_kc.get_absolute_url())

    aside = page_html(response).split('aria-label="About this community"')[1]
    assert "Spencer Sponsor" in aside
    assert "Stella Steward" in aside
    assert "Cut claim turnaround to two days" in aside
    assert "Open: anyone can join" in aside


def test_roster_search_narrows(signed_in, open_kc):
    MembershipFactory(community=open_kc, member=member_named("Priya Patel", job_title="Actuary"))

    by_name = signed_in.get(open_kc.get_absolute_url(), {"q": "sponsor"})
    by_title = signed_in.get(open_kc.get_absolute_url(), {"q": "actuary"})
    nobody = signed_in.get(open_kc.get_absolute_url(), {"q": "zebra"})

    assert roster_names(by_name) == ["Spencer Sponsor"]
    assert roster_names(by_title) == ["Priya Patel"]
    assert roster_names(nobody) == []
    assert "No one on this list matches your search." in page_html(nobody)


def test_roster_shows_only_active_memberships(signed_in, open_kc):
    MembershipFactory(community=open_kc, member=member_named("Active Andy"))
    for state in ["requested", "invited", "left", "removed", "denied"]:
        MembershipFactory(
            community=open_kc, member=member_named(f"{state.title()} Person"), state=state
        )

    response = signed_in.get(open_kc.get_absolute_url())

    assert roster_names(response) == ["Spencer Sponsor", "Stella Steward", "Active Andy"]
    for state in ["Requested", "Invited", "Left", "Removed", "Denied"]:
        assert f"{state} Person" not in page_html(response)


def test_proposed_community_is_not_found_for_staff(signed_in):
    proposed = CommunityFactory(name="Quiet Proposal", status=Community.Status.PROPOSED)

    response = signed_in.get(proposed.get_absolute_url())

    assert response.status_code == 404
    assert "Quiet Proposal" not in page_html(response)


def test_proposed_community_is_visible_to_directory_admins(client, directory_admin):
    proposed = CommunityFactory(name="Quiet Proposal", status=Community.Status.PROPOSED)
    client.force_login(directory_admin)

    response = client.get(proposed.get_absolute_url())

    assert response.status_code == 200
    assert "Quiet Proposal" in page_html(response)
    assert "Proposed" in page_html(response)


def test_unknown_community_uses_the_styled_404_page(signed_in):
    response = signed_in.get(reverse("communities:community_detail", args=["no-such-thing"]))

    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert "We couldn't find that page" in html.unescape(page_html(response))


def test_unknown_url_renders_the_project_404_with_debug_off(settings, signed_in):
    settings.DEBUG = False

    response = signed_in.get("/no/such/page/")

    assert response.status_code == 404
    assert "We couldn't find that page" in html.unescape(page_html(response))
    assert "Search the directory" in page_html(response)
    assert "URLconf" not in page_html(response)  # Django's technical 404 explains the URLconf


# Purposes -------------------------------------------------------------------


def test_purpose_list_search_narrows_and_counts_listed_communities(signed_in, open_kc, cop):
    purpose = open_kc.purposes.get()
    CommunityFactory(status=Community.Status.PROPOSED, purposes=[purpose])
    kindly = PurposeFactory(statement="Write clearly and kindly", orientation="spread_practice")
    cop.purposes.add(kindly)
    CommunityFactory(status=Community.Status.ARCHIVED, purposes=[kindly])

    everything = signed_in.get(reverse("communities:purpose_list"))
    narrowed = signed_in.get(reverse("communities:purpose_list"), {"q": "kindly"})

    counts = {p.statement: p.community_count for p in everything.context["page_obj"]}
    assert counts == {"Cut claim turnaround to two days": 1, "Write clearly and kindly": 2}
    assert listed_names(narrowed) == ["Write clearly and kindly"]


def test_purpose_list_is_alphabetical(signed_in, cop):
    for statement in ["Zero waste", "Write clearly", "Run better meetings", "Learn Python"]:
        cop.purposes.add(PurposeFactory(statement=statement))

    response = signed_in.get(reverse("communities:purpose_list"))

    assert listed_names(response) == [
        "Learn Python",
        "Run better meetings",
        "Write clearly",
        "Zero waste",
    ]


def test_purpose_detail_lists_communities_pursuing_it_but_no_proposals(signed_in, open_kc, cop):
    purpose = open_kc.purposes.get()
    cop.purposes.add(purpose)
    CommunityFactory(name="Secret Plans", status=Community.Status.PROPOSED, purposes=[purpose])
    CommunityFactory(name="Unrelated")

    response = signed_in.get(purpose.get_absolute_url())

    assert listed_names(response) == ["SQL Clinic", "Claims Turnaround"]  # CoPs sort first
    assert "Secret Plans" not in page_html(response)


def test_purpose_detail_empty_state_for_the_proposer_of_the_only_community_pursuing_it(
    client, staff
):
    """Only a proposal pursues it: its proposer may see its page, with no community in
    the directory yet (``test_purpose_visibility`` walks the other roles)."""
    proposal = CommunityFactory(
        status=Community.Status.PROPOSED,
        proposed_by=staff.member,
        purposes=[PurposeFactory(orientation=Purpose.Orientation.SHAPE_FUTURE)],
    )
    client.force_login(staff)

    response = client.get(proposal.purposes.get().get_absolute_url())

    assert "No community pursues this purpose yet." in page_html(response)


def test_unknown_purpose_is_not_found(signed_in):
    response = signed_in.get(reverse("communities:purpose_detail", args=["nothing"]))

    assert response.status_code == 404


# People ---------------------------------------------------------------------


def test_people_search_narrows_by_name_title_department_and_expertise(signed_in, staff):
    underwriting = DepartmentFactory(name="Underwriting", slug="underwriting")
    member_named("Priya Patel", job_title="Pricing analyst", expertise="ifrs 17, budgeting")
    member_named("Omar Okafor", department=underwriting)

    def people(q):
        return listed_names(signed_in.get(reverse("members:member_list"), {"q": q}))

    assert people("priya") == ["Priya Patel"]
    assert people("pricing analyst") == ["Priya Patel"]
    assert people("underwriting") == ["Omar Okafor"]
    assert people("IFRS") == ["Priya Patel"]
    assert people("nobody-at-all") == []


def test_people_department_filter_narrows(signed_in, staff):
    finance = DepartmentFactory(name="Finance", slug="finance")
    member_named("Fatima Finance", department=finance)

    response = signed_in.get(reverse("members:member_list"), {"department": "finance"})

    assert listed_names(response) == ["Fatima Finance"]


def test_people_list_hides_people_who_left_the_organisation(signed_in, staff):
    member_named("Gone Gary", user__is_active=False)

    response = signed_in.get(reverse("members:member_list"))

    assert listed_names(response) == ["Sam Staff"]


def test_member_detail_shows_active_listed_memberships_only(signed_in, open_kc, request_kc, cop):
    priya = member_named("Priya Patel")
    MembershipFactory(member=priya, community=open_kc)
    MembershipFactory(member=priya, community=cop, role=Membership.Role.STEWARD)
    MembershipFactory(member=priya, community=request_kc, state=Membership.State.LEFT)
    proposed = CommunityFactory(name="Secret Plans", status=Community.Status.PROPOSED)
    MembershipFactory(member=priya, community=proposed)

    response = signed_in.get(reverse("members:member_detail", args=[priya.user.username]))

    assert [m.community.name for m in response.context["memberships"]] == [
        "Claims Turnaround",
        "SQL Clinic",
    ]
    assert "Climate Risk Pricing" not in page_html(response)
    assert "Secret Plans" not in page_html(response)
    assert response.context["is_self"] is False


def test_own_profile_offers_edit_link(signed_in, staff):
    response = signed_in.get(reverse("members:member_detail", args=[staff.username]))

    assert response.context["is_self"] is True
    assert reverse("members:profile_edit") in hrefs(response)


def test_my_communities_groups_by_state(signed_in, staff, open_kc, request_kc, cop):
    member = staff.member
    MembershipFactory(member=member, community=cop, role=Membership.Role.PARTICIPANT)
    MembershipFactory(member=member, community=request_kc, state=Membership.State.REQUESTED)
    MembershipFactory(member=member, community=open_kc, state=Membership.State.INVITED)
    MembershipFactory(member=member, community=CommunityFactory(name="Old Days"), state="left")

    response = signed_in.get(reverse("members:my_communities"))

    names = {
        group: [m.community.name for m in response.context[group]]
        for group in ("active", "requested", "invited")
    }
    assert names == {
        "active": ["SQL Clinic"],
        "requested": ["Climate Risk Pricing"],
        "invited": ["Claims Turnaround"],
    }
    assert "Old Days" not in page_html(response)
    assert "Invitations to answer" in page_html(response)
    assert "Waiting for a steward" in page_html(response)


# Profile edit ---------------------------------------------------------------


def test_profile_edit_form_shows_current_values(signed_in, staff):
    response = signed_in.get(reverse("members:profile_edit"))

    form = response.context["form"]
    assert form.instance == staff.member
    assert list(form.fields) == [
        "display_name",
        "job_title",
        "department",
        "location",
        "expertise",
        "bio",
    ]
    assert 'value="Sam Staff"' in page_html(response)


def test_profile_edit_saves_allowed_fields_and_ignores_others(signed_in, staff, outsider):
    finance = DepartmentFactory(name="Finance", slug="finance")

    response = signed_in.post(
        reverse("members:profile_edit"),
        {
            "display_name": "Samira Staff",
            "job_title": "Claims team lead",
            "department": finance.pk,
            "location": "Leeds",
            "expertise": "claims triage, fraud",
            "bio": "Ask me about motor claims.",
            # Not on the form: must be ignored.
            "user": outsider.pk,
            "is_staff": "on",
            "is_superuser": "on",
            "created_at": "2000-01-01T00:00:00Z",
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("members:member_detail", args=[staff.username])
    member = staff.member.__class__.objects.select_related("user").get(pk=staff.member.pk)
    assert member.display_name == "Samira Staff"
    assert member.job_title == "Claims team lead"
    assert member.department == finance
    assert member.location == "Leeds"
    assert member.expertise_list == ["claims triage", "fraud"]
    assert member.bio == "Ask me about motor claims."
    assert member.user == staff
    assert not member.user.is_staff
    assert not member.user.is_superuser
    assert member.created_at.year != 2000
    outsider.member.refresh_from_db()
    assert outsider.member.display_name == "Olive Outsider"


def test_profile_edit_refuses_a_blank_name_and_saves_nothing(signed_in, staff):
    response = signed_in.post(reverse("members:profile_edit"), {"display_name": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["display_name"]
    staff.member.refresh_from_db()
    assert staff.member.display_name == "Sam Staff"


# Signing in and out ---------------------------------------------------------


def test_sign_in_page_has_username_and_password_fields(client):
    response = client.get(LOGIN)

    assert response.status_code == 200
    page = page_html(response)
    assert re.search(r'<label[^>]*for="id_username"[^>]*>\s*Username', page)
    assert re.search(r'<label[^>]*for="id_password"[^>]*>\s*Password', page)
    assert re.search(r'<button[^>]*type="submit"[^>]*>\s*Sign in\s*</button>', page)


def test_right_credentials_sign_in_and_land_on_the_directory(client, staff):
    response = client.post(LOGIN, {"username": "staff", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == DIRECTORY
    assert client.session["_auth_user_id"] == str(staff.pk)
    assert client.get(DIRECTORY).status_code == 200


def test_sign_in_follows_next(client, staff):
    purposes = reverse("communities:purpose_list")

    response = client.post(LOGIN, {"username": "staff", "password": PASSWORD, "next": purposes})

    assert response.url == purposes


def test_wrong_password_does_not_sign_in(client, staff):
    response = client.post(LOGIN, {"username": "staff", "password": "not-the-password"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


def test_inactive_user_cannot_sign_in(client):
    UserFactory(username="leaver", is_active=False)

    client.post(LOGIN, {"username": "leaver", "password": PASSWORD})

    assert "_auth_user_id" not in client.session


def test_sign_out_is_post_only(signed_in):
    refused = signed_in.get(reverse("logout"))
    assert refused.status_code == 405
    assert "_auth_user_id" in signed_in.session

    response = signed_in.post(reverse("logout"))

    assert response.status_code == 302
    assert response.url == LOGIN
    assert "_auth_user_id" not in signed_in.session
    assert signed_in.get(DIRECTORY).status_code == 302


def test_password_change_works_for_staff(signed_in, staff):
    response = signed_in.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-longer-passphrase-41",
            "new_password2": "a-much-longer-passphrase-41",
        },
    )

    assert response.url == reverse("password_change_done")
    staff.refresh_from_db()
    assert staff.check_password("a-much-longer-passphrase-41")


def test_signed_in_pages_show_the_members_name_in_the_navbar(signed_in):
    response = signed_in.get(DIRECTORY)

    nav = page_html(response).split("</nav>")[0]
    assert "Sam Staff" in nav
    assert "Sign out" in nav
