"""Stewards, coordinators and directory admins edit their community.

The service first (what it writes, what it refuses, and that a refusal changes nothing),
then the pages through the test client for each role: anonymous, staff, an outsider, the
steward of another community, the community's steward, a CoP's coordinator and a
directory admin.
"""

import re

import pytest
from django.test import Client
from django.urls import reverse

from communities import access, services
from communities.models import Community, Membership, MembershipEvent, Purpose
from communities.services import CommunityError, EditConflict

from .factories import PurposeFactory
from .pages import alerts, assert_sent_to_sign_in, page_html, page_text, visible_text

pytestmark = pytest.mark.django_db

Role = Membership.Role
State = Membership.State
Action = MembershipEvent.Action
Policy = Community.JoinPolicy
SHAPE_FUTURE = Purpose.Orientation.SHAPE_FUTURE
SPREAD_PRACTICE = Purpose.Orientation.SPREAD_PRACTICE


def url(name: str, *args) -> str:
    return reverse(f"communities:{name}", args=args)


def edit_url(community) -> str:
    return url("community_edit", community.slug)


def details(community) -> tuple:
    """What an edit may change, read afresh: the fields, the purposes and the history."""
    community = Community.objects.get(pk=community.pk)
    return (
        community.summary,
        community.description,
        community.join_policy,
        community.cadence,
        community.links,
        sorted(community.purposes.values_list("statement", flat=True)),
        MembershipEvent.objects.filter(community=community).count(),
        Purpose.objects.count(),
    )


def edited_notes(community) -> list[str]:
    return list(
        MembershipEvent.objects.filter(community=community, action=Action.EDITED)
        .order_by("pk")
        .values_list("note", flat=True)
    )


def form_data(community, **overrides) -> dict:
    """What the edit form posts when nothing is changed, with ``overrides``."""
    community = Community.objects.get(pk=community.pk)
    data = {
        "summary": community.summary,
        "description": community.description,
        "cadence": community.cadence,
        "links": community.links,
        "purposes": [p.pk for p in community.purposes.all()],
        "new_purpose": "",
        "new_purpose_orientation": SHAPE_FUTURE if community.is_kc else SPREAD_PRACTICE,
        "version": community.updated_at.isoformat(),
    }
    if community.is_kc:
        data["join_policy"] = community.join_policy
    return {**data, **overrides}


# == the service ======================================================================


def test_each_changed_field_is_saved_with_one_history_event(open_kc, steward):
    events = services.edit_community(
        community=open_kc,
        actor=steward.member,
        summary="Every claim paid in two days.",
        description=open_kc.description,  # unchanged: no event
        join_policy=Policy.REQUEST,
        cadence="Every other Tuesday",
        links="Team site | https://intranet.example.org/claims",
    )

    open_kc.refresh_from_db()
    assert (open_kc.summary, open_kc.join_policy, open_kc.cadence) == (
        "Every claim paid in two days.",
        Policy.REQUEST,
        "Every other Tuesday",
    )
    assert open_kc.link_list == [("Team site", "https://intranet.example.org/claims")]
    assert len(events) == 4
    assert {(e.action, e.actor, e.actor_name, e.target) for e in events} == {
        (Action.EDITED, steward.member, "Stella Steward", None)
    }
    assert edited_notes(open_kc) == [
        "Summary: “Paying customers in two days.” → “Every claim paid in two days.”",
        "Join policy: Open: anyone can join → On request: stewards approve",
        "Meeting cadence: — → “Every other Tuesday”",
        "Links: — → “Team site | https://intranet.example.org/claims”",
    ]


def test_changing_nothing_writes_nothing(open_kc, steward):
    before = details(open_kc)

    events = services.edit_community(
        community=open_kc,
        actor=steward.member,
        summary=open_kc.summary,
        join_policy=open_kc.join_policy,
        purposes=list(open_kc.purposes.all()),
    )

    assert events == []
    assert details(open_kc) == before


def test_a_kc_cannot_drop_its_last_future_shaping_purpose(open_kc, steward):
    spreading = PurposeFactory(statement="Teach claims handling", orientation=SPREAD_PRACTICE)
    before = details(open_kc)

    with pytest.raises(CommunityError, match="at least one purpose that shapes the future"):
        services.edit_community(
            community=open_kc,
            actor=steward.member,
            summary="A new summary that must not be saved.",
            purposes=[spreading],
        )

    assert details(open_kc) == before


def test_a_kc_cannot_replace_its_future_purpose_by_a_new_one_that_spreads_practice(
    open_kc, steward
):
    before = details(open_kc)

    with pytest.raises(CommunityError, match="shapes the future"):
        services.edit_community(
            community=open_kc,
            actor=steward.member,
            purposes=[],
            new_purpose="Bring new handlers up to speed",
            new_purpose_orientation=SPREAD_PRACTICE,
        )

    assert details(open_kc) == before  # the new purpose was not kept either
    assert not Purpose.objects.filter(statement="Bring new handlers up to speed").exists()


def test_a_kc_swaps_its_future_purpose_for_a_new_one_in_one_event(open_kc, steward):
    events = services.edit_community(
        community=open_kc,
        actor=steward.member,
        purposes=[],
        new_purpose="  Pay every claim within a day ",
    )

    purpose = Purpose.objects.get(statement="Pay every claim within a day")
    assert purpose.orientation == SHAPE_FUTURE  # a KC's new purpose shapes the future
    assert list(open_kc.purposes.all()) == [purpose]
    assert [e.note for e in events] == [
        "Purposes: added “Pay every claim within a day”; removed “Cut claim turnaround to two days”"
    ]


def test_a_new_purpose_by_the_name_of_an_existing_one_reuses_it(open_kc, steward):
    existing = PurposeFactory(statement="Price flood risk by street", orientation=SHAPE_FUTURE)
    count = Purpose.objects.count()

    services.edit_community(
        community=open_kc,
        actor=steward.member,
        new_purpose="price FLOOD risk by street",
        new_purpose_orientation=SPREAD_PRACTICE,  # an existing purpose keeps its own
    )

    assert Purpose.objects.count() == count
    assert existing in open_kc.purposes.all()
    existing.refresh_from_db()
    assert existing.orientation == SHAPE_FUTURE


def test_a_cop_may_drop_every_purpose_and_its_new_ones_spread_practice(cop):
    coordinator = cop.memberships.get(role=Role.STEWARD).member
    cop.purposes.add(PurposeFactory(statement="Faster SQL", orientation=SPREAD_PRACTICE))

    services.edit_community(community=cop, actor=coordinator, purposes=[])
    assert not cop.purposes.exists()

    services.edit_community(community=cop, actor=coordinator, new_purpose="Readable SQL")
    assert cop.purposes.get().orientation == SPREAD_PRACTICE
    assert edited_notes(cop) == ["Purposes: removed “Faster SQL”", "Purposes: added “Readable SQL”"]


def test_a_cop_has_no_join_policy_to_edit(cop):
    coordinator = cop.memberships.get(role=Role.STEWARD).member
    before = details(cop)

    with pytest.raises(CommunityError, match="no join policy"):
        services.edit_community(
            community=cop, actor=coordinator, summary="Changed.", join_policy=Policy.OPEN
        )

    assert details(cop) == before


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"summary": "x" * 301}, "at most 300 characters"),
        ({"cadence": "y" * 151}, "at most 150 characters"),
        ({"join_policy": "anyone"}, "not a valid choice"),
        ({"links": "https://ok.example.org\nnot a link"}, "Line 2 is not a web address"),
        ({"links": "Site | javascript:alert(1)"}, "Line 1 is not a web address"),
    ],
)
def test_invalid_input_is_refused_and_nothing_is_saved(open_kc, steward, changes, message):
    before = details(open_kc)

    with pytest.raises(CommunityError, match=message):
        services.edit_community(
            community=open_kc, actor=steward.member, description="Not saved.", **changes
        )

    assert details(open_kc) == before


def test_an_edit_drawn_before_someone_elses_change_is_refused(open_kc, steward, directory_admin):
    drawn_from = Community.objects.get(pk=open_kc.pk).updated_at
    services.edit_community(
        community=open_kc, actor=directory_admin.member, summary="The admin's summary."
    )
    before = details(open_kc)

    with pytest.raises(EditConflict, match="Someone changed Claims Turnaround"):
        services.edit_community(
            community=open_kc,
            actor=steward.member,
            summary="The steward's summary.",
            unchanged_since=drawn_from,
        )

    assert details(open_kc) == before
    current = Community.objects.get(pk=open_kc.pk).updated_at
    services.edit_community(
        community=open_kc,
        actor=steward.member,
        summary="The steward's summary.",
        unchanged_since=current,
    )
    assert Community.objects.get(pk=open_kc.pk).summary == "The steward's summary."


def test_only_the_editable_fields_can_be_edited(open_kc, steward):
    with pytest.raises(TypeError, match="cannot change kind, name"):
        services.edit_community(community=open_kc, actor=steward.member, name="Renamed", kind="cop")


def test_may_edit_community_is_the_stewards_coordinators_and_directory_admins(
    open_kc, cop, steward, other_steward, member, staff, directory_admin
):
    coordinator = cop.memberships.get(role=Role.STEWARD).member.user

    assert access.may_edit_community(steward, open_kc)
    assert access.may_edit_community(coordinator, cop)
    assert access.may_edit_community(directory_admin, open_kc)
    assert access.may_edit_community(directory_admin, cop)
    for user in (other_steward, member, staff, coordinator):
        assert not access.may_edit_community(user, open_kc)
    assert not access.may_edit_community(steward, cop)


# == the pages ========================================================================


def test_anonymous_is_sent_to_sign_in_and_nothing_changes(client, open_kc):
    before = details(open_kc)
    path = edit_url(open_kc)

    assert_sent_to_sign_in(client.get(path), path)
    assert_sent_to_sign_in(client.post(path, form_data(open_kc, summary="Hacked.")), path)
    assert details(open_kc) == before


@pytest.mark.parametrize("role", ["staff", "outsider", "member", "other_steward"])
def test_people_who_do_not_curate_it_get_403_and_nothing_changes(
    client, request, open_kc, cop, role
):
    user = request.getfixturevalue(role)
    client.force_login(user)
    for community in (open_kc, cop):
        before = details(community)

        got = client.get(edit_url(community))
        posted = client.post(edit_url(community), form_data(community, summary="Hacked."))

        assert (got.status_code, posted.status_code) == (403, 403)
        assert "You can't do that here" in page_text(got)
        assert details(community) == before


def test_a_steward_edits_summary_and_join_policy_and_sees_them_on_the_page(
    client, open_kc, steward
):
    client.force_login(steward)

    form = client.get(edit_url(open_kc))

    assert form.status_code == 200
    text = visible_text(form)
    assert "Edit Claims Turnaround" in text
    assert 'value="Paying customers in two days."' in page_text(form)
    assert "Cut claim turnaround to two days (Shape the future)" in text
    assert "How people join" in text

    response = client.post(
        edit_url(open_kc),
        form_data(open_kc, summary="Every claim paid in two days.", join_policy=Policy.REQUEST),
    )

    assert response.status_code == 302
    assert response.url == open_kc.get_absolute_url()
    page = client.get(response.url)
    assert "Your changes to Claims Turnaround are saved." in alerts(page)
    assert "Every claim paid in two days." in visible_text(page)
    assert "On request: stewards approve" in visible_text(page)
    assert len(edited_notes(open_kc)) == 2


def test_the_history_page_shows_each_edit_with_who_made_it(client, open_kc, steward):
    client.force_login(steward)
    client.post(
        edit_url(open_kc),
        form_data(open_kc, summary="Every claim paid in two days.", cadence="Mondays"),
    )

    history = client.get(url("community_history", open_kc.slug) + "?action=edited")

    rows = re.findall(r"<tr>(.*?)</tr>", page_html(history), re.S)
    cells = [
        [visible_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in rows
    ]
    cells = [row for row in cells if row]
    assert [row[1:5] for row in cells] == [
        ["—", "Community details changed", "Stella Steward", "—"],
        ["—", "Community details changed", "Stella Steward", "—"],
    ]
    assert sorted(row[5] for row in cells) == [
        "Meeting cadence: — → “Mondays”",
        "Summary: “Paying customers in two days.” → “Every claim paid in two days.”",
    ]
    assert "Community details changed" in visible_text(history)  # the filter's own option


def test_a_coordinator_edits_their_cop_which_has_no_join_policy(client, cop):
    coordinator = cop.memberships.get(role=Role.STEWARD).member.user
    client.force_login(coordinator)

    form = client.get(edit_url(cop))

    assert form.status_code == 200
    assert 'name="join_policy"' not in page_html(form)
    assert "How people join" not in visible_text(form)

    response = client.post(
        edit_url(cop),
        form_data(cop, description="We meet to fix slow queries.", new_purpose="Faster SQL"),
    )

    assert response.status_code == 302
    cop.refresh_from_db()
    assert cop.description == "We meet to fix slow queries."
    assert cop.purposes.get().orientation == SPREAD_PRACTICE
    assert len(edited_notes(cop)) == 2


def test_a_directory_admin_edits_any_community(client, open_kc, directory_admin):
    client.force_login(directory_admin)

    response = client.post(
        edit_url(open_kc), form_data(open_kc, links="https://intranet.example.org/claims")
    )

    assert response.status_code == 302
    open_kc.refresh_from_db()
    assert open_kc.links == "https://intranet.example.org/claims"
    event = MembershipEvent.objects.get(community=open_kc, action=Action.EDITED)
    assert event.actor_name == "Dana Admin"


def test_saving_unchanged_details_says_so_and_writes_nothing(client, open_kc, steward):
    client.force_login(steward)
    before = details(open_kc)

    response = client.post(edit_url(open_kc), form_data(open_kc))

    assert response.status_code == 302
    assert "You changed nothing, so nothing was saved." in alerts(client.get(response.url))
    assert details(open_kc) == before


def test_dropping_the_last_future_purpose_shows_the_rule_and_saves_nothing(
    client, open_kc, steward
):
    client.force_login(steward)
    before = details(open_kc)

    response = client.post(edit_url(open_kc), form_data(open_kc, summary="Not saved.", purposes=[]))

    assert response.status_code == 200
    assert (
        "A knowledge community needs at least one purpose that shapes the future: "
        "keep one, or add one." in visible_text(response)
    )
    assert 'value="Not saved."' in page_text(response)  # what they typed is kept
    assert details(open_kc) == before


def test_a_bad_link_is_shown_on_its_field_and_nothing_is_saved(client, open_kc, steward):
    client.force_login(steward)
    before = details(open_kc)

    response = client.post(
        edit_url(open_kc), form_data(open_kc, summary="Not saved.", links="our wiki")
    )

    assert response.status_code == 200
    assert "Line 1 is not a web address" in visible_text(response)
    assert details(open_kc) == before


def test_an_edit_after_someone_elses_keeps_what_you_typed_and_saves_on_the_second_try(
    client, open_kc, steward, directory_admin
):
    client.force_login(steward)
    stale = form_data(open_kc, summary="The steward's summary.")
    services.edit_community(
        community=open_kc, actor=directory_admin.member, cadence="Fridays", summary="Admin's."
    )

    first = client.post(edit_url(open_kc), stale)

    assert first.status_code == 200
    assert "Someone changed Claims Turnaround while you were editing it." in visible_text(first)
    assert 'value="The steward\'s summary."' in page_text(first)
    assert Community.objects.get(pk=open_kc.pk).summary == "Admin's."
    version = re.search(r'name="version" value="([^"]+)"', page_html(first)).group(1)

    second = client.post(edit_url(open_kc), {**stale, "version": version})

    assert second.status_code == 302
    open_kc.refresh_from_db()
    assert (open_kc.summary, open_kc.cadence) == ("The steward's summary.", "")


def test_a_tampered_version_is_refused(client, open_kc, steward):
    client.force_login(steward)
    before = details(open_kc)

    response = client.post(
        edit_url(open_kc), form_data(open_kc, summary="Not saved.", version="yesterday")
    )

    assert response.status_code == 200
    assert "This form is out of date: reload the page." in visible_text(response)
    assert details(open_kc) == before


def test_saving_needs_the_csrf_token(open_kc, steward):
    client = Client(enforce_csrf_checks=True)
    client.force_login(steward)
    before = details(open_kc)

    response = client.post(edit_url(open_kc), form_data(open_kc, summary="Forged."))

    assert response.status_code == 403
    assert details(open_kc) == before


def test_a_get_changes_nothing_even_with_a_query_string(client, open_kc, steward):
    client.force_login(steward)
    before = details(open_kc)

    client.get(edit_url(open_kc), form_data(open_kc, summary="Via GET."))

    assert details(open_kc) == before


def test_the_edit_link_shows_only_to_those_who_may_edit(
    client, open_kc, steward, member, directory_admin
):
    link = f'href="{edit_url(open_kc)}"'
    for user, shown in ((member, False), (steward, True), (directory_admin, True)):
        client.force_login(user)
        assert (link in page_html(client.get(open_kc.get_absolute_url()))) is shown

    client.force_login(steward)
    manage = client.get(url("community_manage", open_kc.slug))
    assert link in page_html(manage)
    assert "Edit community" in visible_text(manage)


def test_the_directory_shows_an_edited_summary_at_once(client, open_kc, steward):
    client.force_login(steward)
    assert "Paying customers in two days." in visible_text(client.get(url("community_list")))

    client.post(edit_url(open_kc), form_data(open_kc, summary="Every claim in two days."))

    directory = visible_text(client.get(url("community_list")))
    assert "Every claim in two days." in directory
    assert "Paying customers in two days." not in directory


def test_an_edit_event_has_no_person_and_stays_out_of_peoples_histories(client, open_kc, steward):
    services.edit_community(community=open_kc, actor=steward.member, summary="Changed.")
    client.force_login(steward)

    mine = client.get(reverse("members:member_history", args=[steward.username]))

    assert mine.status_code == 200
    assert "Summary: “Paying customers" not in visible_text(mine)
    assert MembershipEvent.objects.get(action=Action.EDITED).target is None
