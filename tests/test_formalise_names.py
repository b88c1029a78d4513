"""Formalising a CoP: the knowledge community gets a name no other listed community has
(the CoP's own included), and its own text: a KC's page never says it is a community of
practice because the CoP's description was copied."""

import pytest
from django.urls import reverse

from communities import services
from communities.models import Community, Membership, MembershipEvent, Purpose
from communities.services import CommunityNameTaken

from .factories import PurposeFactory, member_named
from .pages import assert_sent_to_sign_in, visible_text

pytestmark = pytest.mark.django_db

COP_TEXT = "This is a community of practice: come along, share what works."


@pytest.fixture
def data_viz(db):
    """Data Viz Club, a CoP whose description says what a CoP is; Cora coordinates it,
    Pia practises in it."""
    cop = Community.objects.create(
        name="Data Viz Club",
        slug="data-viz-club",
        kind=Community.Kind.COP,
        summary="Charts that people read.",
        description=COP_TEXT,
        cadence="Fridays",
    )
    cora = member_named("Cora Coordinator", username="cora")
    services.join_community(community=cop, member=cora)
    cop.memberships.filter(member=cora).update(role=Membership.Role.STEWARD)
    services.join_community(community=cop, member=member_named("Pia Participant"))
    return cop


@pytest.fixture
def leaders(db):
    return member_named("Bea Boss", username="boss"), member_named("Stu Steward", username="stu")


@pytest.fixture
def purpose(db):
    return PurposeFactory(statement="Every board report readable in a minute")


def everything():
    return (
        sorted(Community.objects.values_list("pk", "name", "status")),
        Membership.objects.count(),
        MembershipEvent.objects.count(),
        Purpose.objects.count(),
    )


def formalise(cop, actor, leaders, purpose, **kwargs):
    boss, stu = leaders
    return services.formalise_cop(
        cop=cop, actor=actor, sponsor=boss, stewards=[stu], purposes=[purpose], **kwargs
    )


# -- the services -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Data Viz Club", "data viz club", "  DATA VIZ CLUB "])
def test_formalising_under_the_cops_own_name_is_refused(
    data_viz, directory_admin, leaders, purpose, name
):
    before = everything()

    with pytest.raises(CommunityNameTaken, match="“Data Viz Club” is already the name"):
        formalise(data_viz, directory_admin.member, leaders, purpose, name=name)
    assert everything() == before


def test_formalising_under_another_listed_communitys_name_is_refused(
    data_viz, open_kc, directory_admin, leaders, purpose
):
    with pytest.raises(CommunityNameTaken, match="Claims Turnaround"):
        formalise(data_viz, directory_admin.member, leaders, purpose, name="Claims turnaround")


def test_a_coordinators_proposal_under_a_taken_name_is_refused(data_viz, purpose):
    cora = data_viz.memberships.get(role="steward").member
    before = everything()

    with pytest.raises(CommunityNameTaken):
        services.propose_formalisation(
            cop=data_viz, actor=cora, name="Data Viz Club", purposes=[purpose]
        )
    assert everything() == before


def test_the_kc_has_its_own_text_never_the_cops(data_viz, directory_admin, leaders, purpose):
    kc = formalise(
        data_viz,
        directory_admin.member,
        leaders,
        purpose,
        name="Board Reporting",
        summary="Board reports anyone can read in a minute.",
        description="We set the standard for every board report.",
    )

    assert (kc.summary, kc.description) == (
        "Board reports anyone can read in a minute.",
        "We set the standard for every board report.",
    )
    assert kc.cadence == "Fridays"  # where and how people meet carries over


# -- the page ---------------------------------------------------------------------------


def formalise_url(cop) -> str:
    return reverse("communities:community_formalise", args=[cop.slug])


def form_data(purpose, **overrides):
    return {
        "name": "Data Viz Club",
        "summary": "",
        "description": "",
        "purposes": [purpose.pk],
        "new_purpose": "",
        "sponsor": "boss",
        "stewards": "stu",
        "join_policy": "request",
        "participants": "invite",
        **overrides,
    }


@pytest.mark.parametrize("role", ["anonymous", "staff", "outsider", "coordinator", "admin"])
def test_the_default_name_is_refused_on_the_page_for_each_role(
    client, role, data_viz, leaders, purpose, staff, outsider, directory_admin
):
    users = {
        "anonymous": None,
        "staff": staff,
        "outsider": outsider,
        "coordinator": data_viz.memberships.get(role="steward").member.user,
        "admin": directory_admin,
    }
    if users[role]:
        client.force_login(users[role])
    before = everything()

    response = client.post(formalise_url(data_viz), form_data(purpose))

    assert everything() == before
    if role == "anonymous":
        assert_sent_to_sign_in(response, formalise_url(data_viz))
    elif role in ("staff", "outsider"):
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        text = visible_text(response)
        assert "“Data Viz Club” is already the name of a community in the directory." in text
        assert "is formed from" not in text


def test_the_form_does_not_offer_the_cops_name(client, data_viz, directory_admin):
    client.force_login(directory_admin)

    page = client.get(formalise_url(data_viz)).content.decode()

    assert 'value="Data Viz Club"' not in page
    assert "A name of its own" in page


def test_the_new_kcs_page_shows_its_own_text(client, data_viz, leaders, purpose, directory_admin):
    client.force_login(directory_admin)

    response = client.post(
        formalise_url(data_viz),
        form_data(
            purpose,
            name="Board Reporting",
            summary="Board reports anyone can read in a minute.",
            description="We set the standard for every board report.",
        ),
        follow=True,
    )

    text = visible_text(response)
    assert "Board Reporting is formed from Data Viz Club." in text
    assert "Board reports anyone can read in a minute." in text
    assert "We set the standard for every board report." in text
    assert COP_TEXT not in text
    assert Community.objects.filter(name__iexact="data viz club").count() == 1
