"""A purpose is public once a listed community pursues it, not before.

Proposing a knowledge community records its purpose, but the proposal itself is seen
only by its proposer and the directory admins: until a directory admin approves it, its
purpose is on no list (the purposes page, its search, the directory's and the ladder's
purpose menus, the formalise form's choices), and its page is not found for anyone who
cannot see the proposal. Walks the roles: anonymous, staff, an outsider, a steward, the
proposer and a directory admin.
"""

import html
import re

import pytest
from django.urls import reverse
from django.utils import translation

from communities import selectors, services
from communities.models import Community, Purpose

from .factories import CommunityFactory, PurposeFactory, coordinated_cop, member_named
from .pages import assert_sent_to_sign_in, page_html

pytestmark = pytest.mark.django_db

STATEMENT = "Price flood risk street by street"
PURPOSES = reverse("communities:purpose_list")
DIRECTORY = reverse("communities:community_list")
LADDER = reverse("communities:ladder")
SIGNED_IN_ROLES = ["staff", "outsider", "steward", "proposer", "directory_admin"]
MAY_SEE_THE_PROPOSAL = {"proposer", "directory_admin"}


@pytest.fixture
def pat(db):
    return member_named("Pat Proposer", username="pat")


@pytest.fixture
def proposal(pat, open_kc):
    """Pat's proposal, pursuing a purpose of its own (and ``open_kc`` exists, with a
    purpose of its own that every list shows)."""
    return services.propose_kc(actor=pat, name="Flood Models", purpose_statement=STATEMENT)


@pytest.fixture
def proposed_purpose(proposal) -> Purpose:
    return Purpose.objects.get(statement=STATEMENT)


@pytest.fixture
def users(staff, outsider, steward, pat, directory_admin):
    return {
        "staff": staff,
        "outsider": outsider,
        "steward": steward,
        "proposer": pat.user,
        "directory_admin": directory_admin,
    }


@pytest.fixture
def approve(directory_admin, proposal):
    def approve():
        return services.approve_proposal(
            community=proposal,
            actor=directory_admin.member,
            sponsor=member_named("Bea Boss", username="boss"),
            stewards=[member_named("Stu Steward", username="stu")],
        )

    return approve


def purpose_menu(response) -> list[str]:
    """The labels of the page's purpose menu (the ``<select name="purpose">``)."""
    select = re.search(r'<select[^>]*name="purpose"[^>]*>(.*?)</select>', page_html(response), re.S)
    assert select, "the page has no purpose menu"
    return [html.unescape(label).strip() for label in re.findall(r">([^<]*)</option>", select[1])]


def listed_statements(response) -> list[str]:
    return [purpose.statement for purpose in response.context["page_obj"]]


# -- before approval -----------------------------------------------------------------------


@pytest.mark.parametrize("role", SIGNED_IN_ROLES)
def test_a_proposals_purpose_is_not_on_the_purposes_page(client, users, proposed_purpose, role):
    client.force_login(users[role])

    everything = client.get(PURPOSES)
    searched = client.get(PURPOSES, {"q": "flood"})

    assert listed_statements(everything) == ["Cut claim turnaround to two days"]
    assert STATEMENT not in page_html(everything)
    assert listed_statements(searched) == []
    assert everything.context["page_obj"].paginator.count == 1


@pytest.mark.parametrize("role", SIGNED_IN_ROLES)
def test_a_proposals_purpose_page_is_found_only_by_who_may_see_the_proposal(
    client, users, proposed_purpose, role
):
    client.force_login(users[role])

    response = client.get(proposed_purpose.get_absolute_url())

    if role in MAY_SEE_THE_PROPOSAL:
        assert response.status_code == 200
        assert STATEMENT in html.unescape(page_html(response))
        # The page lists communities in the directory: not the proposal.
        assert "Flood Models" not in page_html(response)
    else:
        assert response.status_code == 404
        assert STATEMENT not in html.unescape(page_html(response))


def test_anonymous_is_sent_to_sign_in_for_a_proposals_purpose(client, proposed_purpose):
    path = proposed_purpose.get_absolute_url()

    assert_sent_to_sign_in(client.get(path), path)
    assert_sent_to_sign_in(client.get(PURPOSES), PURPOSES)


@pytest.mark.parametrize("role", SIGNED_IN_ROLES)
@pytest.mark.parametrize("page", [DIRECTORY, LADDER], ids=["directory", "ladder"])
def test_a_proposals_purpose_is_not_in_the_purpose_menus(
    client, users, proposed_purpose, role, page
):
    client.force_login(users[role])

    response = client.get(page)

    assert purpose_menu(response) == ["Any purpose", "Cut claim turnaround to two days"]
    assert STATEMENT not in html.unescape(page_html(response))


@pytest.mark.parametrize("role", SIGNED_IN_ROLES)
def test_filtering_the_directory_by_a_proposals_purpose_is_ignored(
    client, users, proposed_purpose, role
):
    """Its slug in the address neither names it in the menu nor narrows the list."""
    client.force_login(users[role])

    response = client.get(DIRECTORY, {"purpose": proposed_purpose.slug})

    assert STATEMENT not in html.unescape(page_html(response))
    assert [str(c) for c in response.context["page_obj"]] == ["Claims Turnaround"]


@pytest.mark.parametrize("role", ["coordinator", "directory_admin"])
def test_a_proposals_purpose_is_offered_when_formalising_another_cop_only_to_admins(
    client, users, proposal, role
):
    coordinator = member_named("Cora Coordinator", username="cora")
    coordinated_cop(coordinator=coordinator, name="Quilters", slug="quilters")
    client.force_login(coordinator.user if role == "coordinator" else users[role])

    response = client.get(reverse("communities:community_formalise", args=["quilters"]))

    assert response.status_code == 200
    assert "Cut claim turnaround to two days" in html.unescape(page_html(response))
    assert (STATEMENT in html.unescape(page_html(response))) == (role == "directory_admin")


def test_a_declined_proposals_purpose_stays_hidden(client, users, proposal, proposed_purpose):
    services.decline_proposal(community=proposal, actor=users["directory_admin"].member)
    client.force_login(users["staff"])

    assert STATEMENT not in html.unescape(page_html(client.get(PURPOSES)))
    assert client.get(proposed_purpose.get_absolute_url()).status_code == 404
    assert STATEMENT not in html.unescape(page_html(client.get(DIRECTORY)))


@pytest.mark.parametrize("role", SIGNED_IN_ROLES)
def test_a_purpose_no_community_pursues_is_on_no_list_and_has_no_page(client, users, role):
    orphan = PurposeFactory(statement="Nobody pursues this yet")
    client.force_login(users[role])

    assert "Nobody pursues this yet" not in page_html(client.get(PURPOSES))
    assert "Nobody pursues this yet" not in page_html(client.get(DIRECTORY))
    assert client.get(orphan.get_absolute_url()).status_code == 404


def test_a_purpose_an_archived_community_pursues_is_listed(client, staff):
    """Archived communities are in the directory (listed): their purposes stay public."""
    CommunityFactory(
        status=Community.Status.ARCHIVED,
        purposes=[PurposeFactory(statement="Keep the old ledger readable")],
    )
    client.force_login(staff)

    assert listed_statements(client.get(PURPOSES)) == ["Keep the old ledger readable"]


# -- after approval ------------------------------------------------------------------------


def test_after_approval_the_purpose_is_on_every_list_and_its_page(
    client, users, proposed_purpose, approve, django_capture_on_commit_callbacks
):
    client.force_login(users["staff"])
    # Drawn (and cached) before the approval.
    assert STATEMENT not in html.unescape(page_html(client.get(DIRECTORY)))
    assert STATEMENT not in html.unescape(page_html(client.get(LADDER)))
    assert STATEMENT not in html.unescape(page_html(client.get(PURPOSES)))

    with django_capture_on_commit_callbacks(execute=True):
        approve()

    purposes = client.get(PURPOSES)
    counts = {p.statement: p.community_count for p in purposes.context["page_obj"]}
    assert counts == {"Cut claim turnaround to two days": 1, STATEMENT: 1}
    page = client.get(proposed_purpose.get_absolute_url())
    assert page.status_code == 200
    assert [str(c) for c in page.context["page_obj"]] == ["Flood Models"]
    assert STATEMENT in purpose_menu(client.get(DIRECTORY))
    assert STATEMENT in purpose_menu(client.get(LADDER))
    narrowed = client.get(DIRECTORY, {"purpose": proposed_purpose.slug})
    assert [str(c) for c in narrowed.context["page_obj"]] == ["Flood Models"]


@pytest.mark.parametrize("role", ["staff", "outsider", "steward"])
def test_after_approval_everyone_finds_the_purpose_page(
    client, users, proposed_purpose, approve, role
):
    approve()
    client.force_login(users[role])

    response = client.get(proposed_purpose.get_absolute_url())

    assert response.status_code == 200
    assert STATEMENT in html.unescape(page_html(response))


def test_approval_forgets_the_kept_purpose_menu_in_every_language(
    proposed_purpose, approve, django_capture_on_commit_callbacks
):
    with translation.override("fr"):
        assert STATEMENT not in dict(selectors.purpose_menu()).values()  # kept now
    assert STATEMENT not in dict(selectors.purpose_menu()).values()

    with django_capture_on_commit_callbacks(execute=True):
        approve()

    assert STATEMENT in dict(selectors.purpose_menu()).values()
    with translation.override("fr"):
        assert STATEMENT in dict(selectors.purpose_menu()).values()


@pytest.mark.parametrize("how", ["create", "formalise"])
def test_a_new_knowledge_community_puts_its_new_purpose_in_the_kept_menu(
    directory_admin, cop, how, django_capture_on_commit_callbacks
):
    admin = directory_admin.member
    fresh = PurposeFactory(statement="Quilt every blanket by hand")
    assert fresh.statement not in dict(selectors.purpose_menu()).values()  # kept now
    leaders = {
        "sponsor": member_named("Bea Boss", username="boss"),
        "stewards": [member_named("Stu Steward", username="stu")],
    }

    with django_capture_on_commit_callbacks(execute=True):
        if how == "create":
            services.create_community(actor=admin, name="Quilt KC", purposes=[fresh], **leaders)
        else:
            services.formalise_cop(
                cop=cop, actor=admin, name="Quilt KC", purposes=[fresh], **leaders
            )

    assert fresh.statement in dict(selectors.purpose_menu()).values()
