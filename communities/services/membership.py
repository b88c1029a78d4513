"""Roster changes one person at a time: joining, requests, invitations, leaving, and
stewards curating the list. See the package's docstring for the state machine."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.models import Member

from .. import access, notifications
from ..models import Community, Membership
from ._common import (
    Action,
    MembershipError,
    Role,
    State,
    _default_role,
    _keeps_a_sponsor,
    _keeps_a_steward,
    _lock,
    _locked_membership,
    _membership_for_update,
    _new_or_existing,
    _require_kc,
    _require_open_for_joining,
    _require_self_service,
    _transition,
)

# -- staff -----------------------------------------------------------------------------


@transaction.atomic
def join_community(*, community: Community, member: Member) -> Membership:
    """Join an open KC at once (or say you practise in a CoP)."""
    community = _lock(community)
    _require_self_service(community)
    _require_open_for_joining(community)
    membership = _lapse_if_due(_new_or_existing(community, member))
    if membership.state == State.ACTIVE:
        raise MembershipError(_("You are already a member."))
    if community.is_kc and community.join_policy != Community.JoinPolicy.OPEN:
        raise MembershipError(_("This knowledge community does not take members directly."))
    if membership.state == State.REMOVED:
        raise MembershipError(
            _("A steward removed you from this community; ask them to add you again.")
        )
    if membership.state == State.REQUESTED:
        raise MembershipError(_("Your request is already waiting for a steward."))
    if membership.state == State.INVITED:
        raise MembershipError(_("You are invited: accept the invitation instead."))
    return _transition(
        membership,
        actor=member,
        action=Action.JOINED if community.is_kc else Action.PRACTISING,
        state=State.ACTIVE,
        role=_default_role(community),
    )


@transaction.atomic
def request_membership(*, community: Community, member: Member, note: str = "") -> Membership:
    """Ask to join a request-only KC; its stewards are told."""
    community = _lock(community)
    _require_self_service(community)
    _require_open_for_joining(community)
    _require_kc(community)
    if community.join_policy != Community.JoinPolicy.REQUEST:
        raise MembershipError(_("This knowledge community does not take requests."))
    membership = _lapse_if_due(_new_or_existing(community, member))
    if membership.state == State.ACTIVE:
        raise MembershipError(_("You are already a member."))
    if membership.state == State.REQUESTED:
        raise MembershipError(_("Your request is already waiting for a steward."))
    if membership.state == State.INVITED:
        raise MembershipError(_("You are invited: accept the invitation instead."))
    membership = _transition(
        membership,
        actor=member,
        action=Action.REQUESTED,
        state=State.REQUESTED,
        role=Role.MEMBER,
        note=note,
    )
    notifications.request_received(membership)
    return membership


@transaction.atomic
def cancel_request(*, community: Community, member: Member) -> Membership:
    community = _lock(community)
    membership = _membership_for_update(community, member)
    if membership is None or membership.state != State.REQUESTED:
        raise MembershipError(_("You have no request waiting here."))
    return _transition(membership, actor=member, action=Action.CANCELLED, state=State.LEFT)


def _lapsed_message(community: Community) -> str:
    days = settings.INVITATION_EXPIRY_DAYS
    return ngettext(
        "Your invitation to %(community)s lapsed: it was not accepted within %(days)d day. "
        "Ask a steward to invite you again.",
        "Your invitation to %(community)s lapsed: it was not accepted within %(days)d days. "
        "Ask a steward to invite you again.",
        days,
    ) % {"community": community.name, "days": days}


def _own_invitation(community: Community, member: Member) -> Membership:
    """The person's invitation to the locked ``community``, if it is still open."""
    membership = _membership_for_update(community, member)
    if membership is None or membership.state != State.INVITED:
        raise MembershipError(_("You have no invitation to this community."))
    if membership.invitation_has_lapsed():
        raise MembershipError(_lapsed_message(community))
    return membership


@transaction.atomic
def accept_invitation(*, community: Community, member: Member) -> Membership:
    """Accept an invitation that has not lapsed (``INVITATION_EXPIRY_DAYS``)."""
    community = _lock(community)
    _require_self_service(community)
    _require_open_for_joining(community)
    membership = _own_invitation(community, member)
    return _transition(membership, actor=member, action=Action.ACCEPTED, state=State.ACTIVE)


@transaction.atomic
def decline_invitation(*, community: Community, member: Member) -> Membership:
    community = _lock(community)
    membership = _own_invitation(community, member)
    return _transition(membership, actor=member, action=Action.DECLINED, state=State.LEFT)


@transaction.atomic
def leave_community(*, community: Community, member: Member) -> Membership:
    community = _lock(community)
    _require_self_service(community)
    membership = _membership_for_update(community, member)
    if membership is None or membership.state != State.ACTIVE:
        raise MembershipError(_("You are not a member of this community."))
    # The last steward and the sponsor stay (``_keeps_a_steward``, ``_keeps_a_sponsor``):
    # said to them, as their community page says it before they try.
    refusal = access.why_cannot_leave(community, membership)
    if refusal:
        raise MembershipError(refusal)
    return _transition(membership, actor=member, action=Action.LEFT, state=State.LEFT)


# -- stewards and directory admins ------------------------------------------------------


DECISIONS = {Action.APPROVED: State.ACTIVE, Action.DENIED: State.DENIED}


def _decide(community: Community, membership: Membership, *, actor, action, note) -> Membership:
    """Approve or deny ``membership`` (``action``) if it is a request still waiting for a
    decision, in the locked ``community``; the requester is told."""
    membership = _locked_membership(community, membership)
    if membership.state != State.REQUESTED:
        raise MembershipError(
            _("%(name)s has no request waiting (it was already decided or withdrawn).")
            % {"name": membership.member.display_name}
        )
    membership = _transition(
        membership, actor=actor, action=action, state=DECISIONS[action], decided=True, note=note
    )
    notifications.request_decided(membership)
    return membership


@transaction.atomic
def approve_request(
    *, community: Community, membership: Membership, actor: Member, note: str = ""
) -> Membership:
    community = _lock(community)
    _require_open_for_joining(community)
    return _decide(community, membership, actor=actor, action=Action.APPROVED, note=note)


@transaction.atomic
def deny_request(
    *, community: Community, membership: Membership, actor: Member, reason: str = ""
) -> Membership:
    community = _lock(community)
    return _decide(community, membership, actor=actor, action=Action.DENIED, note=reason)


@transaction.atomic
def remove_member(
    *, community: Community, membership: Membership, actor: Member, reason: str = ""
) -> Membership:
    """Take someone off the list (or withdraw their invitation or request)."""
    community = _lock(community)
    membership = _locked_membership(community, membership)
    if membership.state not in Membership.ON_THE_LIST:
        raise MembershipError(
            _("%(name)s is not on the list.") % {"name": membership.member.display_name}
        )
    _keeps_a_steward(community, membership)
    _keeps_a_sponsor(community, membership)
    state_before = membership.state
    membership = _transition(
        membership,
        actor=actor,
        action=Action.REMOVED,
        state=State.REMOVED,
        decided=True,
        note=reason,
    )
    notifications.removed(membership, actor=actor, state_before=state_before)
    return membership


@dataclass(frozen=True)
class RoleChange:
    """What making ``membership`` ``role`` does: ``replaces``, when not ``None``, is the
    current sponsor, who becomes a member (a knowledge community has one sponsor)."""

    membership: Membership
    role: str
    replaces: Membership | None = None


# ``change_role``'s ``replacing`` when the caller showed no consequences to anyone.
_UNCHECKED = object()


def _check_role_change(community: Community, membership: Membership, role: str) -> None:
    if role not in Role.values:
        raise MembershipError(_("Unknown role."))
    if membership.state != State.ACTIVE:
        raise MembershipError(_("Only active members can have a role."))
    if community.is_kc and role == Role.PARTICIPANT:
        raise MembershipError(_("Knowledge communities have members, not participants."))
    if not community.is_kc and role == Role.SPONSOR:
        raise MembershipError(_("Communities of practice have no sponsor."))
    if not community.is_kc and role == Role.MEMBER:
        raise MembershipError(_("Communities of practice have participants, not members."))
    if role == membership.role:
        raise MembershipError(
            _("%(name)s is already a %(role)s.")
            % {"name": membership.member.display_name, "role": membership.get_role_display()}
        )
    _keeps_a_steward(community, membership)
    _keeps_a_sponsor(community, membership)


def _sponsor_replaced(
    community: Community, membership: Membership, role: str, *, lock: bool
) -> Membership | None:
    if role != Role.SPONSOR:
        return None
    sponsors = Membership.objects.filter(
        community=community, state=State.ACTIVE, role=Role.SPONSOR
    ).exclude(pk=membership.pk)
    if lock:
        sponsors = sponsors.select_for_update()
    return sponsors.select_related("member").first()


def plan_role_change(*, community: Community, membership: Membership, role: str) -> RoleChange:
    """What ``change_role`` would do now (nothing is written), so a page can say it and
    ask before: refused as ``change_role`` would refuse it."""
    _check_role_change(community, membership, role)
    return RoleChange(
        membership=membership,
        role=role,
        replaces=_sponsor_replaced(community, membership, role, lock=False),
    )


@transaction.atomic
def change_role(
    *,
    community: Community,
    membership: Membership,
    actor: Member,
    role: str,
    replacing: int | None = _UNCHECKED,
) -> Membership:
    """Make an active member a member, steward or sponsor.

    Appointing a sponsor makes the previous sponsor a member (one sponsor per KC), in
    the same transaction, with a history event each. ``replacing``: the id of the
    sponsor's membership the person was told would be replaced (``plan_role_change``),
    or ``None`` when they were told of no one; refused if that is no longer so.
    """
    community = _lock(community)
    membership = _locked_membership(community, membership)
    _check_role_change(community, membership, role)
    previous = _sponsor_replaced(community, membership, role, lock=True)
    if replacing is not _UNCHECKED and replacing != (previous.pk if previous else None):
        raise MembershipError(
            _("The sponsor of %(community)s changed in the meantime. Look at the list again.")
            % {"community": community.name}
        )
    if previous is not None:
        _transition(
            previous,
            actor=actor,
            action=Action.ROLE_CHANGED,
            state=State.ACTIVE,
            role=Role.MEMBER,
            decided=True,
        )
        notifications.role_changed(previous, actor=actor)
    membership = _transition(
        membership,
        actor=actor,
        action=Action.ROLE_CHANGED,
        state=State.ACTIVE,
        role=role,
        decided=True,
    )
    notifications.role_changed(membership, actor=actor)
    return membership


# -- invitations ------------------------------------------------------------------------


def _lapse(membership: Membership) -> Membership:
    """End an invitation nobody answered in time: "left", as if declined, with its event."""
    days = settings.INVITATION_EXPIRY_DAYS
    note = ngettext(
        "Not answered within %(days)d day.", "Not answered within %(days)d days.", days
    ) % {"days": days}
    return _transition(membership, actor=None, action=Action.LAPSED, state=State.LEFT, note=note)


def _lapse_if_due(membership: Membership) -> Membership:
    """A lapsed invitation found by a join or a request ends first: no longer invited,
    the person joins or asks like anyone else, and the history says so in order."""
    if membership.pk is not None and membership.invitation_has_lapsed():
        return _lapse(membership)
    return membership


def _steward_invitation(community: Community, membership: Membership) -> Membership:
    membership = _locked_membership(community, membership)
    if membership.state != State.INVITED:
        raise MembershipError(
            _("%(name)s has no invitation waiting (it was answered, withdrawn or lapsed).")
            % {"name": membership.member.display_name}
        )
    return membership


@transaction.atomic
def resend_invitation(*, community: Community, membership: Membership, actor: Member) -> Membership:
    """Send an open invitation again (lapsed or not, while it is still "invited"): the
    invitee gets the email again and has ``INVITATION_EXPIRY_DAYS`` days from now."""
    community = _lock(community)
    _require_open_for_joining(community)
    membership = _steward_invitation(community, membership)
    membership = _transition(
        membership, actor=actor, action=Action.REINVITED, state=State.INVITED, decided=True
    )
    notifications.invited(membership)
    return membership


@transaction.atomic
def withdraw_invitation(
    *, community: Community, membership: Membership, actor: Member, reason: str = ""
) -> Membership:
    """Take back an invitation: the person comes off the list as if removed (they can
    ask again where the community takes requests)."""
    community = _lock(community)
    membership = _steward_invitation(community, membership)
    membership = _transition(
        membership,
        actor=actor,
        action=Action.WITHDRAWN,
        state=State.REMOVED,
        decided=True,
        note=reason,
    )
    notifications.removed(membership, actor=actor, state_before=State.INVITED)
    return membership


@dataclass(frozen=True)
class LapseResult:
    lapsed: int
    communities: int


def lapse_invitations(
    *,
    now: datetime | None = None,
    batch_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> LapseResult:
    """End every invitation not answered within ``INVITATION_EXPIRY_DAYS`` days: each
    moves to "left" with a "lapsed" history event. Batches of ``batch_size``, each in
    its own transaction; an invitation accepted, declined or sent again meanwhile is
    left alone (checked again under its row lock). Running it again changes nothing.
    ``progress(done, total)`` is called after each batch."""
    now = now or timezone.now()
    due = list(Membership.objects.lapsed_invitations(now).values_list("pk", flat=True))
    lapsed, communities = 0, set()
    for start in range(0, len(due), batch_size):
        with transaction.atomic():
            batch = (
                Membership.objects.lapsed_invitations(now)
                .filter(pk__in=due[start : start + batch_size])
                .select_for_update(of=("self",))
                .select_related("member")
            )
            for membership in batch:
                _lapse(membership)
                lapsed += 1
                communities.add(membership.community_id)
        if progress is not None:
            progress(min(start + batch_size, len(due)), len(due))
    return LapseResult(lapsed=lapsed, communities=len(communities))
