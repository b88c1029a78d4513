"""Handing over: appointing a new sponsor (said and confirmed before it is done), and
the last steward or the sponsor who wants to leave (told before, in the second person,
with what to do first)."""

import re

import pytest
from django.urls import reverse

from communities import access, services
from communities.models import Community, Membership, MembershipEvent
from communities.services import MembershipError

from .factories import MembershipFactory, coordinated_cop, led_kc, member_named
from .pages import alerts, assert_sent_to_sign_in, page_html, page_text, visible_text

pytestmark = pytest.mark.django_db

State = Membership.State
Role = Membership.Role
Action = MembershipEvent.Action

ONLY_STEWARD = (
    "You are the only steward of Claims Turnaround. Make someone else steward first "
    "(on the Manage membership page), then you can leave."
)
SPONSOR_STAYS = (
    "You are the sponsor of Claims Turnaround, and an active knowledge community needs one. "
    "Ask a steward to make someone else sponsor first, then you can leave."
)


def snapshot():
    return (
        sorted(Membership.objects.values_list("pk", "state", "role", "decided_by")),
        MembershipEvent.objects.count(),
    )


def sponsor_of(community) -> Membership:
    return community.memberships.select_related("member").get(state=State.ACTIVE, role=Role.SPONSOR)


def roles(community) -> dict[str, str]:
    return dict(
        community.memberships.filter(state=State.ACTIVE).values_list("member__display_name", "role")
    )


@pytest.fixture
def bea(open_kc):
    """Bea Garcia, an active member of ``open_kc`` (sponsored by Spencer Sponsor)."""
    return MembershipFactory(member=member_named("Bea Garcia"), community=open_kc)


# -- what appointing a sponsor does -------------------------------------------------------------


def test_the_plan_names_the_sponsor_a_new_one_replaces(open_kc, bea):
    change = services.plan_role_change(community=open_kc, membership=bea, role=Role.SPONSOR)

    assert change.replaces == sponsor_of(open_kc)
    assert change.replaces.member.display_name == "Spencer Sponsor"


def test_the_plan_of_any_other_role_replaces_no_one(open_kc, bea):
    change = services.plan_role_change(community=open_kc, membership=bea, role=Role.STEWARD)

    assert change.replaces is None


def test_the_plan_refuses_what_change_role_refuses(open_kc):
    stella = open_kc.memberships.get(role=Role.STEWARD)

    with pytest.raises(MembershipError, match="is the last steward"):
        services.plan_role_change(community=open_kc, membership=stella, role=Role.SPONSOR)


def test_appointing_the_sponsor_named_in_the_plan_changes_both_in_one_go(open_kc, bea, steward):
    change = services.plan_role_change(community=open_kc, membership=bea, role=Role.SPONSOR)

    services.change_role(
        community=open_kc,
        membership=bea,
        actor=steward.member,
        role=Role.SPONSOR,
        replacing=change.replaces.pk,
    )

    assert roles(open_kc) == {
        "Bea Garcia": Role.SPONSOR,
        "Spencer Sponsor": Role.MEMBER,
        "Stella Steward": Role.STEWARD,
    }
    events = open_kc.events.filter(action=Action.ROLE_CHANGED).order_by("pk")
    assert [(e.target_name, e.role_before, e.role_after, e.actor_name) for e in events] == [
        ("Spencer Sponsor", Role.SPONSOR, Role.MEMBER, "Stella Steward"),
        ("Bea Garcia", Role.MEMBER, Role.SPONSOR, "Stella Steward"),
    ]


def test_appointing_is_refused_when_the_sponsor_changed_since_the_plan(open_kc, bea, steward):
    change = services.plan_role_change(community=open_kc, membership=bea, role=Role.SPONSOR)
    carl = MembershipFactory(member=member_named("Carl Other"), community=open_kc)
    services.change_role(
        community=open_kc, membership=carl, actor=steward.member, role=Role.SPONSOR
    )
    before = snapshot()

    with pytest.raises(MembershipError, match="The sponsor of Claims Turnaround changed"):
        services.change_role(
            community=open_kc,
            membership=bea,
            actor=steward.member,
            role=Role.SPONSOR,
            replacing=change.replaces.pk,
        )

    assert snapshot() == before


def test_appointing_is_refused_when_told_no_one_would_be_replaced(open_kc, bea, steward):
    before = snapshot()

    with pytest.raises(MembershipError, match="changed in the meantime"):
        services.change_role(
            community=open_kc,
            membership=bea,
            actor=steward.member,
            role=Role.SPONSOR,
            replacing=None,
        )

    assert snapshot() == before


# -- appointing a sponsor on the manage page ----------------------------------------------------


def role_url(membership) -> str:
    return reverse("communities:membership_role", args=[membership.community.slug, membership.pk])


@pytest.mark.parametrize("role", ["steward", "directory_admin"])
def test_appointing_a_sponsor_asks_first_and_says_who_becomes_a_member(
    client, request, open_kc, bea, role
):
    client.force_login(request.getfixturevalue(role))
    before = snapshot()

    page = client.post(role_url(bea), {"role": "sponsor"})

    assert page.status_code == 200
    text = visible_text(page)
    assert "Make Bea Garcia sponsor?" in text
    assert "Spencer Sponsor, the current sponsor, will become a member." in text
    assert snapshot() == before
    main = page_html(page).split("<main", 1)[1]
    form = re.search(r'<form method="post" action="([^"]+)"(.*?)</form>', main, re.S)
    assert form.group(1) == role_url(bea)
    assert f'name="replacing" value="{sponsor_of(open_kc).pk}"' in form.group(2)
    assert ">Confirm</button>" in form.group(2)
    manage = reverse("communities:community_manage", args=[open_kc.slug])
    assert f'href="{manage}">Cancel</a>' in form.group(2)

    response = client.post(
        role_url(bea), {"role": "sponsor", "replacing": sponsor_of(open_kc).pk}, follow=True
    )

    assert response.redirect_chain == [(manage, 302)]
    assert (
        "Bea Garcia is now Sponsor. Spencer Sponsor, the previous sponsor, is now a member."
        in alerts(response)
    )
    assert roles(open_kc)["Bea Garcia"] == Role.SPONSOR
    assert roles(open_kc)["Spencer Sponsor"] == Role.MEMBER
    assert open_kc.events.filter(action=Action.ROLE_CHANGED).count() == 2


@pytest.mark.parametrize("role", ["anonymous", "staff", "outsider", "other_steward"])
def test_appointing_a_sponsor_is_refused_to_non_curators(client, request, open_kc, bea, role):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))
    before = snapshot()

    for data in [{"role": "sponsor"}, {"role": "sponsor", "replacing": sponsor_of(open_kc).pk}]:
        response = client.post(role_url(bea), data)
        if role == "anonymous":
            assert_sent_to_sign_in(response, role_url(bea))
        else:
            assert response.status_code == 403

    assert snapshot() == before


def test_a_confirmation_for_a_sponsor_who_is_no_longer_one_asks_again(
    client, steward, open_kc, bea
):
    spencer = sponsor_of(open_kc)
    carl = MembershipFactory(member=member_named("Carl Other"), community=open_kc)
    services.change_role(
        community=open_kc, membership=carl, actor=steward.member, role=Role.SPONSOR
    )
    client.force_login(steward)
    before = snapshot()

    page = client.post(role_url(bea), {"role": "sponsor", "replacing": spencer.pk})

    assert page.status_code == 200
    assert "Carl Other, the current sponsor, will become a member." in visible_text(page)
    assert snapshot() == before


def test_a_role_that_replaces_no_one_changes_at_once(client, steward, open_kc, bea):
    client.force_login(steward)

    response = client.post(role_url(bea), {"role": "steward"}, follow=True)

    assert "Bea Garcia is now Steward." in alerts(response)
    assert roles(open_kc)["Bea Garcia"] == Role.STEWARD


def test_a_refused_role_change_is_a_message_not_a_confirmation(client, steward, open_kc):
    client.force_login(steward)
    stella = open_kc.memberships.get(role=Role.STEWARD)
    before = snapshot()

    response = client.post(role_url(stella), {"role": "sponsor"}, follow=True)

    assert any("is the last steward" in alert for alert in alerts(response))
    assert "Make Stella Steward sponsor?" not in visible_text(response)
    assert snapshot() == before


# -- who may leave -------------------------------------------------------------------------------


def test_the_only_steward_of_an_active_kc_is_told_to_hand_over_first(open_kc):
    stella = open_kc.memberships.get(role=Role.STEWARD)

    assert access.why_cannot_leave(open_kc, stella) == ONLY_STEWARD


def test_the_sponsor_of_an_active_kc_is_told_to_ask_for_a_new_one(open_kc):
    assert access.why_cannot_leave(open_kc, sponsor_of(open_kc)) == SPONSOR_STAYS


def test_a_steward_with_a_fellow_steward_may_leave(open_kc):
    MembershipFactory(community=open_kc, role=Role.STEWARD)
    stella = open_kc.memberships.get(member__display_name="Stella Steward")

    assert access.why_cannot_leave(open_kc, stella) == ""


def test_the_answer_is_the_same_from_a_community_read_with_its_leaders(open_kc):
    with_leaders = Community.objects.with_leaders().get(pk=open_kc.pk)
    stella = open_kc.memberships.get(role=Role.STEWARD)

    assert access.why_cannot_leave(with_leaders, stella) == ONLY_STEWARD
    MembershipFactory(community=open_kc, role=Role.STEWARD)
    with_leaders = Community.objects.with_leaders().get(pk=open_kc.pk)
    assert access.why_cannot_leave(with_leaders, stella) == ""


@pytest.mark.parametrize("status", [Community.Status.DORMANT, Community.Status.ARCHIVED])
def test_leaders_of_a_kc_that_is_not_active_may_leave(status):
    kc = led_kc(status=status)

    for membership in kc.memberships.all():
        assert access.why_cannot_leave(kc, membership) == ""


def test_the_only_coordinator_of_a_cop_may_leave():
    cop = coordinated_cop()

    assert access.why_cannot_leave(cop, cop.memberships.get()) == ""


@pytest.mark.parametrize("state", [None, State.LEFT, State.INVITED])
def test_someone_with_nothing_to_leave_gets_no_reason_here(open_kc, state):
    membership = None
    if state is not None:
        membership = MembershipFactory(community=open_kc, state=state, role=Role.STEWARD)

    assert access.why_cannot_leave(open_kc, membership) == ""


def test_leaving_is_refused_with_the_same_words_the_page_shows(open_kc):
    for membership, words in [
        (open_kc.memberships.get(role=Role.STEWARD), ONLY_STEWARD),
        (sponsor_of(open_kc), SPONSOR_STAYS),
    ]:
        with pytest.raises(MembershipError) as refusal:
            services.leave_community(community=open_kc, member=membership.member)
        assert str(refusal.value) == words


# -- the community page and the leave page ------------------------------------------------------


def membership_card(response) -> str:
    match = re.search(
        r'<section class="card mb-3" aria-labelledby="membership-heading">(.*?)</section>',
        page_html(response),
        re.S,
    )
    return match.group(1)


def leave_url(community) -> str:
    return reverse("communities:membership_leave", args=[community.slug])


def test_the_only_steward_sees_why_and_where_to_hand_over_instead_of_leave(
    client, steward, open_kc
):
    client.force_login(steward)

    card = membership_card(client.get(open_kc.get_absolute_url()))

    assert ONLY_STEWARD in page_text(card)
    assert leave_url(open_kc) not in card
    manage = reverse("communities:community_manage", args=[open_kc.slug])
    assert re.search(rf'<a [^>]*href="{manage}"[^>]*>Choose who takes over</a>', card)


def test_the_only_steward_who_opens_the_leave_page_is_told_there_too(client, steward, open_kc):
    client.force_login(steward)
    before = snapshot()

    page = client.get(leave_url(open_kc))

    assert page.status_code == 200
    text = visible_text(page)
    assert "You cannot leave Claims Turnaround yet" in text
    assert ONLY_STEWARD in text
    assert "Leave Claims Turnaround?" not in text
    assert '<form method="post"' not in page_html(page).split("<main", 1)[-1]
    assert "Choose who takes over" in text
    assert snapshot() == before


def test_the_sponsor_sees_why_and_no_manage_link(client, open_kc):
    spencer = sponsor_of(open_kc).member
    client.force_login(spencer.user)

    card = membership_card(client.get(open_kc.get_absolute_url()))
    page = client.get(leave_url(open_kc))

    assert SPONSOR_STAYS in page_text(card) and leave_url(open_kc) not in card
    assert "Choose who takes over" not in page_text(card)
    assert SPONSOR_STAYS in visible_text(page)
    assert "Choose who takes over" not in visible_text(page)


def test_a_steward_with_a_fellow_steward_gets_the_usual_leave_confirmation(
    client, steward, open_kc
):
    MembershipFactory(community=open_kc, role=Role.STEWARD)
    client.force_login(steward)

    card = membership_card(client.get(open_kc.get_absolute_url()))
    page = client.get(leave_url(open_kc))

    assert leave_url(open_kc) in card and "only steward" not in card
    assert "Leave Claims Turnaround?" in visible_text(page)
    response = client.post(leave_url(open_kc), follow=True)
    assert "You left Claims Turnaround." in alerts(response)


@pytest.mark.parametrize("role", ["member", "staff", "outsider", "directory_admin"])
def test_everyone_else_gets_the_leave_page_as_before(client, request, open_kc, role):
    client.force_login(request.getfixturevalue(role))

    page = client.get(leave_url(open_kc))

    assert page.status_code == 200
    assert "Leave Claims Turnaround?" in visible_text(page)
    assert "You cannot leave" not in visible_text(page)


def test_the_leave_page_sends_anonymous_visitors_to_sign_in(client, open_kc):
    assert_sent_to_sign_in(client.get(leave_url(open_kc)), leave_url(open_kc))
