"""``Community.active_member_count``: how many active memberships a community has, stored
so that the directory shows and sorts by it without counting. Every service that makes a
membership active or not keeps it, in its own transaction: one membership at a time by
one step up or down (``_transition`` calls ``_active_count_changed``), a bulk change by
counting its communities again in one statement (``_recount_members``)."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest

from ..models import Community, Membership, active_member_counts


def _active_count_changed(membership: Membership, state_before: str) -> None:
    """``membership`` just moved from ``state_before`` to its state: its community's count
    goes one up or down if it became active or stopped being so. An increment, not a
    recount, so two changes committed at once both count."""
    was_active = state_before == Membership.State.ACTIVE
    is_active = membership.state == Membership.State.ACTIVE
    if was_active != is_active:
        step = (
            F("active_member_count") + 1 if is_active else Greatest(F("active_member_count") - 1, 0)
        )
        Community.objects.filter(pk=membership.community_id).update(active_member_count=step)


def _lock_communities(community_ids: Iterable[int]) -> None:
    """Lock these communities' rows, in id order (as every roster service locks its
    community before touching its memberships): for a bulk change that recounts them."""
    ids = sorted(set(community_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        list(Community.objects.select_for_update().filter(pk__in=chunk).order_by("pk").values("pk"))


def _recount_members(community_ids: Iterable[int]) -> None:
    """Count the active memberships of these communities again and store the counts: one
    statement per ``CHUNK`` communities. The caller holds the communities' row locks (the
    roster services lock theirs first; ``_lock_communities``): a count read under the
    lock includes every change committed before it."""
    ids = sorted(set(community_ids))
    for start in range(0, len(ids), CHUNK):
        Community.objects.filter(pk__in=ids[start : start + CHUNK]).recount_members()


CHUNK = 500  # communities a statement, within SQLite's parameter limit


@transaction.atomic
def recount_members() -> int:
    """A repair: every community's stored ``active_member_count`` counted afresh from its
    memberships, for counts changed outside the services (a superuser deleting a person
    in the Django admin deletes their memberships). Locks every community while it counts.
    Returns how many stored counts were wrong (and are now right)."""
    ids = list(Community.objects.order_by("pk").values_list("pk", flat=True))
    _lock_communities(ids)
    counted = active_member_counts(None)
    wrong = [
        pk
        for pk, stored in Community.objects.values_list("pk", "active_member_count")
        if stored != counted.get(pk, 0)
    ]
    _recount_members(wrong)
    return len(wrong)
