"""Membership terms: end dates, reminders and ``expire_memberships``."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from communities import dashboard, services
from communities.models import CommunityTerm, Membership, MembershipEvent, MembershipTerm

from .factories import MembershipFactory, member_named

pytestmark = pytest.mark.django_db(transaction=False)


def _end(membership, days_from_today):
    return MembershipTerm.objects.update_or_create(
        membership=membership,
        defaults={
            "ends_on": timezone.localdate() + timedelta(days=days_from_today),
            "since": membership.active_since,
        },
    )[0]


@pytest.fixture
def mo(member, open_kc):
    return open_kc.memberships.get(member__user=member)


def test_passed_membership_moves_to_left_with_one_event(open_kc, mo):
    _end(mo, -1)

    result = services.expire_memberships()

    mo.refresh_from_db()
    assert mo.state == Membership.State.LEFT
    assert result.ended == 1
    event = MembershipEvent.objects.filter(target=mo.member).get()
    assert event.action == MembershipEvent.Action.LEFT
    assert event.note.startswith("Membership ended on ")
    open_kc.refresh_from_db()
    assert open_kc.active_member_count == 2  # sponsor and steward


def test_membership_ending_today_is_kept_until_tomorrow(mo):
    _end(mo, 0)

    assert services.expire_memberships().ended == 0
    mo.refresh_from_db()
    assert mo.state == Membership.State.ACTIVE


def test_last_steward_and_sponsor_are_never_expired_but_reported(open_kc, capsys):
    leaders = open_kc.memberships.filter(role__in=["steward", "sponsor"])
    for membership in leaders:
        _end(membership, -3)

    result = services.expire_memberships()

    assert result.ended == 0
    assert sorted(held.reason for held in result.held) == ["last steward", "sponsor"]
    assert set(leaders.values_list("state", flat=True)) == {"active"}
    assert dashboard.expired_but_kept().count() == 2


def test_one_of_two_stewards_whose_terms_passed_stays(open_kc):
    second = MembershipFactory(
        community=open_kc, member=member_named("Second Steward"), role="steward"
    )
    for membership in open_kc.memberships.filter(role="steward"):
        _end(membership, -1)

    result = services.expire_memberships()

    assert result.ended == 1
    assert open_kc.memberships.filter(role="steward", state="active").count() == 1
    assert [held.reason for held in result.held] == ["last steward"]
    assert second.pk  # one of the two, whichever ended first


def test_command_is_idempotent(mo):
    _end(mo, -1)

    call_command("expire_memberships")
    call_command("expire_memberships")

    assert MembershipEvent.objects.filter(target=mo.member).count() == 1


def test_a_reminder_is_sent_once(mo, settings):
    _end(mo, 10)

    assert services.send_expiry_reminders(days=[14, 3]) == 1
    assert services.send_expiry_reminders(days=[14, 3]) == 0

    assert len(mail.outbox) == 0  # sent after commit
    assert MembershipTerm.objects.get(pk=mo.pk).reminded_days == 14


def test_reminders_reach_the_member_once_per_threshold(mo, django_capture_on_commit_callbacks):
    term = _end(mo, 10)
    with django_capture_on_commit_callbacks(execute=True):
        services.send_expiry_reminders(days=[14, 3])
    term.ends_on = timezone.localdate() + timedelta(days=2)
    term.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.send_expiry_reminders(days=[14, 3])
        services.send_expiry_reminders(days=[14, 3])

    assert [message.to for message in mail.outbox] == [[mo.member.user.email]] * 2
    assert "Claims Turnaround" in mail.outbox[0].subject


def test_someone_first_seen_close_to_the_end_gets_only_the_nearest_reminder(mo):
    _end(mo, 2)

    assert services.send_expiry_reminders(days=[14, 3]) == 1
    assert services.send_expiry_reminders(days=[14, 3]) == 0


def test_default_term_applies_to_new_active_members(open_kc, staff):
    CommunityTerm.objects.create(community=open_kc, months=12)

    membership = services.join_community(community=open_kc, member=staff.member)

    term = MembershipTerm.objects.get(membership=membership)
    assert (term.ends_on - timezone.localdate()).days in range(365, 367)


def test_rejoining_drops_an_old_end_date(open_kc, mo):
    _end(mo, -5)
    services.leave_community(community=open_kc, member=mo.member)

    services.join_community(community=open_kc, member=mo.member)

    mo = Membership.objects.select_related("term").get(pk=mo.pk)
    assert mo.ends_on is None
    assert services.expire_memberships().ended == 0
    assert services.send_expiry_reminders(days=[14, 3]) == 0


def test_steward_sets_and_clears_an_end_date_with_events(open_kc, mo, steward):
    ends_on = timezone.localdate() + timedelta(days=60)

    services.set_membership_term(
        community=open_kc, membership=mo, ends_on=ends_on, actor=steward.member
    )
    services.set_membership_term(
        community=open_kc, membership=mo, ends_on=None, actor=steward.member
    )

    assert not MembershipTerm.objects.filter(membership=mo).exists()
    notes = list(
        MembershipEvent.objects.filter(action="term_set")
        .order_by("pk")
        .values_list("note", flat=True)
    )
    assert notes[0].startswith("Until ") and notes[1] == "No end date"


def test_end_date_must_be_after_today(open_kc, mo, steward):
    with pytest.raises(services.MembershipError):
        services.set_membership_term(
            community=open_kc, membership=mo, ends_on=timezone.localdate(), actor=steward.member
        )
    assert not MembershipTerm.objects.exists()


def test_a_roster_import_gives_new_members_the_default_term(open_kc, steward):
    CommunityTerm.objects.create(community=open_kc, months=6)
    member_named("Nina New", username="nina")
    pending = services.preview_roster_import(
        community=open_kc,
        actor=steward.member,
        file_name="roster.csv",
        text="username,role\nnina,member\n",
        remove_absent=False,
    )

    services.apply_roster_import(roster_import=pending, actor=steward.member)

    nina = Membership.objects.select_related("term").get(member__user__username="nina")
    assert nina.ends_on is not None
    assert 180 <= (nina.ends_on - timezone.localdate()).days <= 184


def test_command_reports_the_leaders_it_keeps(open_kc):
    for membership in open_kc.memberships.filter(role__in=["steward", "sponsor"]):
        _end(membership, -1)
    out = StringIO()

    call_command("expire_memberships", stdout=out)

    assert "Kept: Stella Steward in Claims Turnaround" in out.getvalue()
    assert "last steward" in out.getvalue()
    assert "Ended 0 memberships; kept 2" in out.getvalue()
