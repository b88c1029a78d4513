"""Similar communities (by name, summary and purposes) are shown before a knowledge
community is proposed, created or formalised, and to the admin deciding a proposal; a
proposal's "Why now" is the proposer's note to the admins, never the public summary."""

from importlib import import_module

import pytest
from django.apps import apps
from django.urls import reverse

from communities import selectors, services
from communities.models import Community, Purpose

from .factories import CommunityFactory, PurposeFactory, member_named
from .pages import assert_sent_to_sign_in, section_text, visible_text

pytestmark = pytest.mark.django_db

TURNAROUND = "Cut claim turnaround to two days"  # open_kc's purpose


def url(name: str, *args) -> str:
    return reverse(f"communities:{name}", args=args)


@pytest.fixture
def leaders(db):
    return member_named("Bea Boss", username="boss"), member_named("Stu Steward", username="stu")


# -- the selector -------------------------------------------------------------------------


def test_a_community_pursuing_the_same_purpose_is_similar_whatever_its_name(open_kc):
    found = selectors.similar_communities("Faster payouts", purposes=[TURNAROUND])

    assert found == [open_kc]


def test_one_common_word_in_a_purpose_is_not_a_likeness(open_kc):
    CommunityFactory(name="Glacier Watch", purposes=[PurposeFactory(statement="Map ice by 2030")])

    assert selectors.similar_communities("Tidal Forecasting", purposes=["Tides by 2030"]) == []


# -- proposing --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "staff", "outsider", "steward", "admin"])
def test_proposing_shows_similar_communities_first_then_saves_when_confirmed(
    client, role, open_kc, staff, outsider, steward, directory_admin
):
    user = {"staff": staff, "outsider": outsider, "steward": steward, "admin": directory_admin}
    data = {"name": "Claims Speed Squad", "purpose": TURNAROUND, "summary": "", "why_now": ""}
    if role == "anonymous":
        assert_sent_to_sign_in(client.post(url("kc_propose"), data), url("kc_propose"))
        return
    client.force_login(user[role])

    first = client.post(url("kc_propose"), data)

    assert first.status_code == 200
    assert "Claims Turnaround" in section_text(first, "similar-heading")
    assert not Community.objects.filter(name="Claims Speed Squad").exists()
    assert 'name="confirmed" value="True"' in first.content.decode()

    second = client.post(url("kc_propose"), {**data, "confirmed": "True"})

    assert second.status_code == 302
    assert Community.objects.get(name="Claims Speed Squad").status == "proposed"


def test_a_proposal_with_nothing_similar_is_saved_at_once(client, staff, open_kc):
    client.force_login(staff)

    response = client.post(
        url("kc_propose"), {"name": "Glacier Watch", "purpose": "Map every glacier by 2030"}
    )

    assert response.status_code == 302
    assert Community.objects.filter(name="Glacier Watch").exists()


def test_why_now_is_the_proposers_note_not_the_public_summary(client, staff, directory_admin):
    client.force_login(staff)
    client.post(
        url("kc_propose"),
        {
            "name": "Glacier Watch",
            "purpose": "Map every glacier by 2030",
            "summary": "Mapping glaciers for underwriting.",
            "why_now": "Two insurers lost money on glacier floods last winter.",
        },
    )
    proposal = Community.objects.get(name="Glacier Watch")

    assert proposal.summary == "Mapping glaciers for underwriting."
    assert proposal.proposal_note == "Two insurers lost money on glacier floods last winter."
    client.force_login(directory_admin)
    decide = visible_text(client.get(url("proposal_decide", proposal.slug)))
    assert "Summary Mapping glaciers for underwriting." in decide
    assert "Why now Two insurers lost money on glacier floods last winter." in decide
    assert "Two insurers lost money" not in visible_text(client.get(proposal.get_absolute_url()))


def test_an_approved_kc_never_shows_the_why_now(client, staff, directory_admin, leaders):
    boss, stu = leaders
    proposal = services.propose_kc(
        actor=staff.member,
        name="Glacier Watch",
        purpose_statement="Map every glacier by 2030",
        summary="Mapping glaciers for underwriting.",
        why_now="Two insurers lost money on glacier floods last winter.",
    )
    services.approve_proposal(
        community=proposal, actor=directory_admin.member, sponsor=boss, stewards=[stu]
    )
    client.force_login(staff)

    page = visible_text(client.get(proposal.get_absolute_url()))

    assert "Mapping glaciers for underwriting." in page
    assert "Two insurers lost money" not in page


# -- creating and formalising -----------------------------------------------------------


def create_data(purpose: Purpose, **overrides) -> dict:
    return {
        "name": "Claims Speed Squad",
        "summary": "",
        "description": "",
        "join_policy": "request",
        "purposes": [purpose.pk],
        "sponsor": "boss",
        "stewards": "stu",
        **overrides,
    }


def test_creating_shows_similar_communities_first(client, directory_admin, open_kc, leaders):
    client.force_login(directory_admin)
    purpose = open_kc.purposes.get()

    first = client.post(url("community_create"), create_data(purpose))

    assert "Claims Turnaround" in section_text(first, "similar-heading")
    assert "Create it anyway" in visible_text(first)
    assert not Community.objects.filter(name="Claims Speed Squad").exists()

    client.post(url("community_create"), create_data(purpose, confirmed="True"))
    assert Community.objects.get(name="Claims Speed Squad").status == "active"


def test_formalising_shows_similar_communities_first_but_not_the_cop_itself(
    client, directory_admin, cop, open_kc, leaders
):
    client.force_login(directory_admin)
    data = {
        "name": "Claims Query Board",
        "summary": "Claims questions answered in a day.",
        "purposes": [open_kc.purposes.get().pk],
        "new_purpose": "",
        "sponsor": "boss",
        "stewards": "stu",
        "join_policy": "request",
        "participants": "invite",
    }

    first = client.post(url("community_formalise", cop.slug), data)

    similar = section_text(first, "similar-heading")
    assert "Claims Turnaround" in similar and "SQL Clinic" not in similar
    assert "Formalise it anyway" in visible_text(first)
    assert not Community.objects.filter(name="Claims Query Board").exists()

    second = client.post(url("community_formalise", cop.slug), {**data, "confirmed": "True"})
    assert second.status_code == 302
    assert Community.objects.get(name="Claims Query Board").formed_from == cop


def test_the_admin_deciding_a_proposal_sees_similar_communities(
    client, directory_admin, staff, open_kc, cop
):
    proposal = services.propose_kc(
        actor=staff.member, name="Claims Speed Squad", purpose_statement=TURNAROUND
    )
    client.force_login(directory_admin)

    response = client.get(url("proposal_decide", proposal.slug))

    similar = section_text(response, "similar-heading")
    assert "Claims Turnaround" in similar
    assert f'href="{open_kc.get_absolute_url()}"' in response.content.decode()


# -- existing proposals -----------------------------------------------------------------


def test_the_migration_moves_a_waiting_proposals_summary_to_its_why_now(staff, cop):
    from_scratch = Community.objects.create(
        name="Glacier Watch",
        slug="glacier-watch",
        kind="kc",
        status="proposed",
        summary="Glaciers are melting faster.",
        proposed_by=staff.member,
    )
    formalising = Community.objects.create(
        name="SQL Board",
        slug="sql-board",
        kind="kc",
        status="proposed",
        summary=cop.summary,
        proposed_by=staff.member,
        formed_from=cop,
    )
    approved = CommunityFactory(summary="Already public.", proposed_by=staff.member)

    import_module("communities.migrations.0015_community_proposal_note").move_notes(apps, None)

    values = dict(
        Community.objects.filter(pk__in=[from_scratch.pk, formalising.pk, approved.pk]).values_list(
            "pk", "proposal_note"
        )
    )
    assert values == {
        from_scratch.pk: "Glaciers are melting faster.",
        formalising.pk: "",
        approved.pk: "",
    }
    assert Community.objects.get(pk=from_scratch.pk).summary == ""
