"""Merging a duplicate: the community that stays is chosen by name, a preview shows
exactly who moves and in which role, roles are no higher than the survivor's unless the
admin chooses to keep them, and confirming applies exactly the plan previewed."""

import re

import pytest
from django.urls import reverse

from communities import services
from communities.models import Community, Membership, MembershipEvent
from communities.services import CommunityError

from .factories import MembershipFactory, led_kc, member_named
from .pages import assert_sent_to_sign_in, section_text, visible_text

pytestmark = pytest.mark.django_db

State, Role = Membership.State, Membership.Role
Action = MembershipEvent.Action


@pytest.fixture
def duplicate(open_kc):
    """Claims Turnaround North, a duplicate of ``open_kc`` (Spencer sponsors it, Stella
    stewards it): Sid sponsors the duplicate, Sue stewards it, Pat stewards it and is a
    plain member of ``open_kc``, Max is only a member here, Rhea's request waits."""
    dup = led_kc(
        sponsor=member_named("Sid Sponsor", username="sid"),
        steward=member_named("Sue Steward", username="sue"),
        name="Claims Turnaround North",
        slug="claims-turnaround-north",
        summary="Paying customers faster in the north.",
        join_policy=Community.JoinPolicy.REQUEST,
    )
    pat = member_named("Pat Both", username="pat")
    MembershipFactory(community=dup, member=pat, role=Role.STEWARD)
    MembershipFactory(community=open_kc, member=pat, role=Role.MEMBER)
    MembershipFactory(community=dup, member=member_named("Max Member", username="max"))
    MembershipFactory(
        community=dup, member=member_named("Rhea Requester", username="rhea"), state="requested"
    )
    return dup


def roles_in(community) -> dict[str, str]:
    return dict(
        community.memberships.filter(state=State.ACTIVE).values_list("member__display_name", "role")
    )


def everything():
    return (
        sorted(Community.objects.values_list("pk", "status", "merged_into_id")),
        sorted(Membership.objects.values_list("pk", "community_id", "member_id", "role", "state")),
        sorted(MembershipEvent.objects.values_list("pk", "community_id")),
    )


def merge_url(community) -> str:
    return reverse("communities:community_merge", args=[community.slug])


# -- the plan and the service -------------------------------------------------------------


def test_the_plan_says_who_moves_in_which_role_and_caps_roles_by_default(open_kc, duplicate):
    plan = services.plan_merge(source=duplicate, target=open_kc)

    moves = {
        m.member.display_name: (m.kind, m.role_here, m.role_after, m.capped) for m in plan.moves
    }
    assert moves == {
        "Sid Sponsor": ("joins", Role.SPONSOR, Role.MEMBER, True),
        "Sue Steward": ("joins", Role.STEWARD, Role.MEMBER, True),
        "Pat Both": ("stays", Role.STEWARD, Role.MEMBER, True),
        "Max Member": ("joins", Role.MEMBER, Role.MEMBER, False),
    }
    assert [(m.display_name, state) for m, state in plan.ending] == [
        ("Rhea Requester", State.REQUESTED)
    ]


def test_merging_does_not_make_the_duplicates_stewards_stewards_of_the_survivor(
    open_kc, duplicate, directory_admin
):
    services.merge_communities(source=duplicate, target=open_kc, actor=directory_admin.member)

    assert roles_in(open_kc) == {
        "Spencer Sponsor": Role.SPONSOR,
        "Stella Steward": Role.STEWARD,
        "Sid Sponsor": Role.MEMBER,
        "Sue Steward": Role.MEMBER,
        "Pat Both": Role.MEMBER,
        "Max Member": Role.MEMBER,
    }
    notes = dict(open_kc.events.filter(action=Action.MERGED).values_list("target_name", "note"))
    assert notes["Sue Steward"] == "From Claims Turnaround North, where they were Steward"
    assert notes["Max Member"] == "From Claims Turnaround North"


def test_keeping_roles_is_a_choice_and_the_survivor_keeps_its_sponsor(
    open_kc, duplicate, directory_admin
):
    services.merge_communities(
        source=duplicate, target=open_kc, actor=directory_admin.member, keep_roles=True
    )

    assert roles_in(open_kc) == {
        "Spencer Sponsor": Role.SPONSOR,
        "Stella Steward": Role.STEWARD,
        "Sid Sponsor": Role.STEWARD,
        "Sue Steward": Role.STEWARD,
        "Pat Both": Role.STEWARD,
        "Max Member": Role.MEMBER,
    }
    promoted = open_kc.events.get(target_name="Pat Both", action=Action.ROLE_CHANGED)
    assert (promoted.role_before, promoted.role_after) == (Role.MEMBER, Role.STEWARD)


def test_people_who_move_keep_the_date_they_became_members(open_kc, duplicate, directory_admin):
    since = duplicate.memberships.get(member__display_name="Max Member").active_since

    services.merge_communities(source=duplicate, target=open_kc, actor=directory_admin.member)

    assert open_kc.memberships.get(member__display_name="Max Member").active_since == since


def test_a_merge_confirmed_after_the_lists_changed_is_refused(open_kc, duplicate, directory_admin):
    previewed = services.plan_merge(source=duplicate, target=open_kc).fingerprint
    MembershipFactory(community=duplicate, member=member_named("Late Comer"))
    before = everything()

    with pytest.raises(CommunityError, match="since the preview, so nothing was merged"):
        services.merge_communities(
            source=duplicate,
            target=open_kc,
            actor=directory_admin.member,
            fingerprint=previewed,
        )
    assert everything() == before


def test_a_plan_for_another_role_choice_has_another_fingerprint(open_kc, duplicate):
    capped = services.plan_merge(source=duplicate, target=open_kc)
    kept = services.plan_merge(source=duplicate, target=open_kc, keep_roles=True)

    assert capped.fingerprint != kept.fingerprint


# -- the pages --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "staff", "outsider", "steward_of_it", "admin"])
def test_only_directory_admins_see_the_preview_or_merge(
    client, role, open_kc, duplicate, staff, outsider, directory_admin
):
    users = {
        "anonymous": None,
        "staff": staff,
        "outsider": outsider,
        "steward_of_it": duplicate.memberships.get(member__display_name="Sue Steward").member.user,
        "admin": directory_admin,
    }
    if users[role]:
        client.force_login(users[role])
    path = merge_url(duplicate)
    fingerprint = services.plan_merge(source=duplicate, target=open_kc).fingerprint
    before = everything()

    preview = client.get(path, {"target": open_kc.pk})
    if role != "admin":
        merged = client.post(path, {"target": open_kc.pk, "fingerprint": fingerprint})
        assert everything() == before
        if role == "anonymous":
            assert_sent_to_sign_in(preview, f"{path}?target={open_kc.pk}")
            assert_sent_to_sign_in(merged, path)
        else:
            assert (preview.status_code, merged.status_code) == (403, 403)
        return
    assert preview.status_code == 200
    assert everything() == before  # a preview changes nothing


def test_the_target_is_found_by_name_and_chosen_from_a_list_not_typed(
    client, directory_admin, open_kc, duplicate, cop
):
    client.force_login(directory_admin)

    page = client.get(merge_url(duplicate), {"q": "turnaround"}).content.decode()

    assert 'name="target" type="text"' not in page and "address name" not in page
    assert re.search(
        rf'type="radio" name="target" id="target-{open_kc.pk}" value="{open_kc.pk}"', page
    )
    assert f'value="{cop.pk}"' not in page  # another kind cannot take it in
    assert f'value="{duplicate.pk}"' not in page  # nor can it take itself in


def test_the_preview_lists_exactly_who_moves_and_in_which_role(
    client, directory_admin, open_kc, duplicate
):
    client.force_login(directory_admin)

    response = client.get(merge_url(duplicate), {"target": open_kc.pk})

    moving = section_text(response, "moving-heading")
    assert "Sue Steward Steward Joins as Member role not kept" in moving
    assert "Sid Sponsor Sponsor Joins as Member role not kept" in moving
    assert "Max Member Member Joins as Member" in moving
    assert "Pat Both" not in moving
    already = section_text(response, "already-heading")
    assert "Pat Both Steward Member there already; stays Member role not kept" in already
    assert "Rhea Requester (Requested)" in section_text(response, "ending-heading")
    assert "Roles are not kept" in visible_text(response)


def test_keeping_roles_is_previewed_before_it_is_confirmed(
    client, directory_admin, open_kc, duplicate
):
    client.force_login(directory_admin)

    response = client.get(merge_url(duplicate), {"target": open_kc.pk, "keep_roles": "on"})

    assert "Sue Steward Steward Joins as Steward" in section_text(response, "moving-heading")
    assert "Pat Both Steward Member there; becomes Steward" in section_text(
        response, "already-heading"
    )
    assert "Roles are kept" in visible_text(response)
    assert 'name="keep_roles" value="True"' in response.content.decode()


def test_confirming_applies_the_previewed_plan(client, directory_admin, open_kc, duplicate):
    client.force_login(directory_admin)
    preview = client.get(merge_url(duplicate), {"target": open_kc.pk})
    fingerprint = re.search(r'name="fingerprint" value="(\w+)"', preview.content.decode())[1]

    response = client.post(merge_url(duplicate), {"target": open_kc.pk, "fingerprint": fingerprint})

    assert response.url == open_kc.get_absolute_url()
    assert roles_in(open_kc)["Sue Steward"] == Role.MEMBER
    duplicate.refresh_from_db()
    assert duplicate.merged_into == open_kc


def test_a_stale_preview_is_not_applied_and_a_fresh_one_is_shown(
    client, directory_admin, open_kc, duplicate
):
    client.force_login(directory_admin)
    preview = client.get(merge_url(duplicate), {"target": open_kc.pk})
    fingerprint = re.search(r'name="fingerprint" value="(\w+)"', preview.content.decode())[1]
    MembershipFactory(community=duplicate, member=member_named("Late Comer"))
    before = everything()

    response = client.post(
        merge_url(duplicate), {"target": open_kc.pk, "fingerprint": fingerprint}, follow=True
    )

    assert everything() == before
    page = visible_text(response)
    assert "since the preview, so nothing was merged. Look at the new preview." in page
    assert "Late Comer Member Joins as Member" in section_text(response, "moving-heading")
