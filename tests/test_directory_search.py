"""Directory search by words (ranked, tolerant of a typo), the status and join-policy
filters, and what each card says: its join policy and, to its viewer alone, their
standing. The same tests run on SQLite and PostgreSQL."""

import re

import pytest
from django.urls import reverse

from communities import selectors
from communities.forms import DirectoryFilterForm
from communities.models import Community, Membership
from tests.factories import (
    CommunityFactory,
    DepartmentFactory,
    MembershipFactory,
    PurposeFactory,
    member_named,
)
from tests.pages import assert_sent_to_sign_in, inline_text, page_html, page_text, visible_text

pytestmark = pytest.mark.django_db

DIRECTORY = reverse("communities:community_list")


def found(params: dict) -> tuple[list[str], str]:
    """Names on the directory's first page for ``params``, and the corrected spelling."""
    form = DirectoryFilterForm(params)
    search = selectors.directory_search(
        lambda query: form.filtered(Community.objects.for_directory(), query), form.query, 1
    )
    return [c.name for c in search.page.object_list], search.corrected


@pytest.fixture
def library(db):
    """Communities whose words test matching at word starts and the ranking."""
    CommunityFactory(name="Claims Turnaround", summary="Paying customers in two days.")
    CommunityFactory(name="AI Guild", summary="Machine learning in practice.")
    CommunityFactory(name="Python Learners", summary="Learning Python together.")
    CommunityFactory(name="Data Clinic", summary="Bring your Python notebooks.")
    CommunityFactory(
        name="Analytics Forum",
        summary="Numbers for decisions.",
        purposes=[PurposeFactory(statement="Make python the norm for analysis")],
    )


def test_a_word_matches_at_a_word_start_not_inside_a_word(library):
    assert found({"q": "AI"})[0] == ["AI Guild"]  # not "Claims"
    assert found({"q": "ai guild"})[0] == ["AI Guild"]
    assert not Community.objects.search("urnaround").exists()
    assert found({"q": "urnaround"}) == (["Claims Turnaround"], "turnaround")  # a typo?
    assert found({"q": "Turn"})[0] == ["Claims Turnaround"]  # a word's beginning will do


def test_every_word_must_match_in_any_order_and_any_field(library):
    assert found({"q": "learners python"})[0] == ["Python Learners"]
    assert found({"q": "python notebooks"})[0] == ["Data Clinic"]
    assert found({"q": "python cobol"})[0] == []


def test_results_rank_name_then_summary_then_purposes_then_by_name(library):
    names, corrected = found({"q": "python"})

    assert names == ["Python Learners", "Data Clinic", "Analytics Forum"]
    assert corrected == ""


def test_several_words_rank_by_where_all_of_them_are_found(db):
    # Each community holds both words, in different places.
    tooling = PurposeFactory(statement="Rust tooling adoption")
    CommunityFactory(name="Zed Group", summary="Editors.", purposes=[tooling])
    CommunityFactory(name="Rust Guild", summary="Systems work.", purposes=[tooling])
    CommunityFactory(name="Tooling Circle", summary="Rust at work.")
    CommunityFactory(name="Rust Tooling Group", summary="Everything.")

    names, _ = found({"q": "tooling rust"})

    # Both in the name; one in the name and one in the summary; a purpose needed.
    assert names == ["Rust Tooling Group", "Tooling Circle", "Rust Guild", "Zed Group"]


def test_punctuation_around_words_is_ignored(library):
    assert found({"q": "(AI),"})[0] == ["AI Guild"]


def test_a_chosen_sort_overrides_the_ranking(library):
    names, _ = found({"q": "python", "sort": "name"})

    assert names == ["Analytics Forum", "Data Clinic", "Python Learners"]


def test_a_misspelt_word_is_searched_as_the_closest_word_the_directory_knows(library):
    assert found({"q": "pyton"}) == (
        ["Python Learners", "Data Clinic", "Analytics Forum"],
        "python",
    )
    assert found({"q": "lerners pyton"}) == (["Python Learners"], "learners python")


def test_nothing_close_stays_nothing(library):
    assert found({"q": "zqxwv"}) == ([], "")


def test_a_word_that_finds_something_is_never_corrected(library):
    assert found({"q": "pyth"}) == (["Python Learners", "Data Clinic", "Analytics Forum"], "")


@pytest.fixture
def statuses(db):
    CommunityFactory(name="Active Open", join_policy=Community.JoinPolicy.OPEN)
    CommunityFactory(name="Dormant Asking", status=Community.Status.DORMANT)
    CommunityFactory(
        name="Archived Open",
        status=Community.Status.ARCHIVED,
        join_policy=Community.JoinPolicy.OPEN,
    )
    CommunityFactory(name="Invited Only", join_policy=Community.JoinPolicy.INVITE)
    CommunityFactory(name="Proposed Thing", status=Community.Status.PROPOSED)


def test_archived_communities_are_hidden_unless_asked_for(statuses):
    assert found({})[0] == ["Active Open", "Dormant Asking", "Invited Only"]
    assert found({"status": "archived"})[0] == ["Archived Open"]
    assert found({"status": "all"})[0] == [
        "Active Open",
        "Archived Open",
        "Dormant Asking",
        "Invited Only",
    ]
    assert found({"status": "dormant"})[0] == ["Dormant Asking"]
    assert found({"status": "proposed"})[0] == ["Active Open", "Dormant Asking", "Invited Only"]


def test_join_policy_filter(statuses):
    assert found({"join_policy": "open"})[0] == ["Active Open"]
    assert found({"join_policy": "open", "status": "all"})[0] == ["Active Open", "Archived Open"]
    assert found({"join_policy": "invite"})[0] == ["Invited Only"]
    assert found({"join_policy": "request"})[0] == ["Dormant Asking"]


# -- the page, for each role ----------------------------------------------------------


@pytest.fixture
def standing(open_kc, request_kc, invite_kc, outsider):
    """Olive (the outsider) a member of nothing; Mo a member of open_kc, asking to join
    request_kc and invited to invite_kc."""
    mo = member_named("Mo Member", username="mo")
    MembershipFactory(member=mo, community=open_kc)
    MembershipFactory(member=mo, community=request_kc, state=Membership.State.REQUESTED)
    MembershipFactory(member=mo, community=invite_kc, state=Membership.State.INVITED)
    return mo.user


def card_text(response, name: str) -> str:
    community = Community.objects.get(name=name)
    html = response.content.decode()
    start = html.index(f'href="{community.get_absolute_url()}"')
    return visible_text(html[start : html.index("</article>", start)])


def test_each_card_says_its_join_policy(client, staff, open_kc, request_kc, invite_kc):
    client.force_login(staff)

    response = client.get(DIRECTORY)

    assert "Open to join" in card_text(response, "Claims Turnaround")
    assert "Ask to join" in card_text(response, "Climate Risk Pricing")
    assert "By invitation" in card_text(response, "Pricing Council")


def test_each_card_tells_its_viewer_their_standing(client, standing):
    client.force_login(standing)

    response = client.get(DIRECTORY)

    assert "You are a member" in card_text(response, "Claims Turnaround")
    assert "You asked to join" in card_text(response, "Climate Risk Pricing")
    assert "You are invited" in card_text(response, "Pricing Council")


@pytest.mark.parametrize("role", ["anonymous", "outsider", "steward", "directory_admin"])
def test_the_cached_page_never_shows_one_viewer_what_is_anothers(
    client, standing, role, outsider, directory_admin, open_kc
):
    client.force_login(standing)
    client.get(DIRECTORY)  # Mo's visit fills the cache
    client.logout()
    users = {
        "anonymous": None,
        "outsider": outsider,
        "steward": open_kc.memberships.get(role=Membership.Role.STEWARD).member.user,
        "directory_admin": directory_admin,
    }
    if not users[role]:
        assert_sent_to_sign_in(client.get(DIRECTORY), DIRECTORY)
        return
    client.force_login(users[role])

    text = page_text(client.get(DIRECTORY))

    assert "You asked to join" not in text
    assert "You are invited" not in text
    if role == "steward":
        assert "You are a member" in card_text(client.get(DIRECTORY), "Claims Turnaround")
    else:
        assert "You are a member" not in text


@pytest.mark.parametrize("role", ["anonymous", "staff", "directory_admin"])
def test_a_misspelt_search_says_what_it_searched_for(client, role, staff, directory_admin):
    CommunityFactory(name="Python Learners")
    if role == "anonymous":
        assert_sent_to_sign_in(client.get(DIRECTORY, {"q": "pyton"}), DIRECTORY + "?q=pyton")
        return
    client.force_login({"staff": staff, "directory_admin": directory_admin}[role])

    response = client.get(DIRECTORY, {"q": "pyton"})

    assert "Python Learners" in visible_text(response)
    correction = re.search(r'<p class="spelling-correction">(.*?)</p>', page_html(response), re.S)
    assert inline_text(correction.group(1)) == "Showing results for “python” (you typed “pyton”)."


def test_the_page_hides_archived_and_filters_by_join_policy(client, staff, statuses):
    client.force_login(staff)

    default = client.get(DIRECTORY)
    archived = client.get(DIRECTORY, {"status": "archived"})
    open_only = client.get(DIRECTORY, {"join_policy": "open", "status": "all"})

    assert "Archived Open" not in page_text(default)
    assert [c.name for c in archived.context["page_obj"]] == ["Archived Open"]
    assert [c.name for c in open_only.context["page_obj"]] == ["Active Open", "Archived Open"]
    # The chosen filters stay chosen, and the folded filters say which they are.
    assert "Filters: Status: Any status, archived too; Joining: Open to join" in page_text(
        open_only
    ).replace("</span>", "").replace('<span class="fw-normal">', "")
    assert "Filters</summary>" in default.content.decode()


def test_the_filter_menus_keep_the_choices_and_escape_their_labels(client, staff):
    department = DepartmentFactory(name="R&D <Labs>", slug="r-and-d")
    CommunityFactory(name="Lab Notes", kind=Community.Kind.KC)
    client.force_login(staff)

    html = page_html(client.get(DIRECTORY, {"department": "r-and-d", "kind": "kc"}))

    assert '<option value="r-and-d" selected>R&amp;D &lt;Labs&gt;</option>' in html
    assert '<option value="kc" selected>Knowledge community</option>' in html
    assert '<option value="" selected>Any stage</option>' in html
    assert html.count("<option ") == sum(
        len(menu["options"]) for menu in DirectoryFilterForm({}).menus()
    )
    summary = re.search(r"<summary[^>]*>(.*?)</summary>", html, re.S).group(1)
    assert inline_text(summary) == (
        f"Filters: Kind: Knowledge community; Department: {department.name}"
    )
    assert "<Labs>" not in summary


def test_the_menus_are_made_once_per_form(db):
    form = DirectoryFilterForm({"kind": "cop"})

    assert form.menus() is form.menus()
    assert form.chosen_filters() == ["Kind: Community of practice"]
