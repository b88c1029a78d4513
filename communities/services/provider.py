"""Roster changes an identity provider makes: a group in the organisation's directory
(Entra ID, Okta…) linked to a knowledge community decides who is on its list, through
SCIM provisioning. While linked, the community is marked as managed by that provider
(``access.membership_managed_by``), so people neither join nor leave it on its page.

Each change is one ``MembershipEvent`` by the provider (``actor_name``), as every roster
change is. No email is sent: being in the group is the organisation's decision, made
and announced there. Like the HR sync, these changes are not bound by the last-steward
and sponsor rules: the provider cannot be told "no" for a person it says left the
group, and the admin dashboard lists the communities left without a steward.
"""

from collections.abc import Iterable

from django.db import transaction

from members.models import Member

from ..models import Community, Membership
from ._common import (
    Action,
    State,
    _default_role,
    _lock,
    _membership_for_update,
    _new_or_existing,
    _require_open_for_joining,
    _transition,
)
from ._counts import _recount_members


@transaction.atomic
def set_membership_manager(*, community: Community, provider_name: str) -> Community:
    """Mark ``community``'s list as kept by ``provider_name`` ("" gives it back to
    kcdir: people join and leave on its page again). Nobody's membership changes."""
    community = _lock(community)
    community.membership_managed_by = provider_name[:100]
    community.save(update_fields=["membership_managed_by", "updated_at"])
    return community


@transaction.atomic
def add_members_by_provider(
    *, community: Community, members: Iterable[Member], actor_name: str
) -> list[Member]:
    """Put ``members`` on the list as active members (approving a waiting request, or
    over an invitation); people already active are left as they are. Returns those
    added. Refused (``MembershipError``) for an archived or proposed community."""
    community = _lock(community)
    _require_open_for_joining(community)
    added = []
    for member in members:
        membership = _new_or_existing(community, member)
        if membership.state == State.ACTIVE:
            continue
        _transition(
            membership,
            actor=None,
            actor_name=actor_name,
            action=Action.APPROVED if membership.state == State.REQUESTED else Action.ADDED,
            state=State.ACTIVE,
            role=None if membership.state == State.REQUESTED else _default_role(community),
            decided=True,
            counted=False,
        )
        added.append(member)
    _recount_members([community.pk])
    return added


@transaction.atomic
def remove_members_by_provider(
    *, community: Community, members: Iterable[Member], actor_name: str
) -> list[Member]:
    """Take ``members`` off the list (active, invited or waiting): each moves to
    "removed" with one event by ``actor_name``. People not on it are skipped. Returns
    those removed."""
    community = _lock(community)
    removed = []
    for member in members:
        membership = _membership_for_update(community, member)
        if membership is None or membership.state not in Membership.ON_THE_LIST:
            continue
        _transition(
            membership,
            actor=None,
            actor_name=actor_name,
            action=Action.REMOVED,
            state=State.REMOVED,
            decided=True,
            counted=False,
        )
        removed.append(member)
    _recount_members([community.pk])
    return removed
