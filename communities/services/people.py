"""The HR sync's writes: users, members and departments made to match a planned
extract, and the open memberships of people who left the organisation ended.

``sync_people`` writes a ``people_sync.plan_sync`` plan in batches (one statement per
``BATCH_SIZE`` rows, never one per person), in one transaction. It refuses a plan that
deactivates more than ``settings.PEOPLE_SYNC_MAX_DEACTIVATE_SHARE`` of the people HR
manages unless forced (only ``manage.py sync_people --force`` forces). The admin's page
stores the file it dry-ran (``store_people_sync_upload``) and applies exactly that file
(``apply_people_sync_upload``).
"""

import hashlib
import secrets
from collections.abc import Collection, Iterator, Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Department, Member

from .. import overlaps
from ..models import Membership, MembershipEvent, PeopleSyncUpload
from ..people_sync import (
    MEMBER_FIELDS,
    OPEN_STATES,
    PROGRESS_EVERY,
    USER_FIELDS,
    ChangeKind,
    PersonChange,
    Progress,
    SyncError,
    SyncPlan,
    parse_hr_csv,
    plan_sync,
)
from ._common import ServiceError
from ._counts import _lock_communities, _recount_members
from .rules import evaluate_rules_for_usernames

BATCH_SIZE = 1000  # rows per INSERT/UPDATE (Django lowers it where a database needs)
IN_CHUNK = 900  # ids per ``pk__in``: under SQLite's historical limit of 999 variables

SYNC_ACTOR_NAME = "HR sync"
LEFT_NOTE = "Left the organisation"


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _unusable_password() -> str:
    # What make_password(None) stores, without 40 calls to secrets.choice per person.
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20)


class SyncRefused(ServiceError):
    """An HR sync refused as a whole (too many leavers, or not the file that was
    previewed); the message says why and what to do. Nothing changed."""


# Unapplied uploads are kept this long for their "Apply" button, then dropped.
UPLOAD_KEPT = timedelta(days=1)


def _percent(share: float) -> str:
    """0.05 → "5%", 0.025 → "2.5%", 0.987 → "99%"."""
    percent = share * 100
    if percent >= 10 or percent == int(percent):
        return f"{percent:.0f}%"
    return f"{percent:.1f}".rstrip("0").rstrip(".") + "%"


def deactivation_limit() -> str:
    """The most one sync may deactivate, for people to read ("5%")."""
    return _percent(settings.PEOPLE_SYNC_MAX_DEACTIVATE_SHARE)


def deactivation_refusal(plan: SyncPlan, *, max_share: float | None = None) -> str | None:
    """Why applying ``plan`` is refused unless forced: it deactivates more than
    ``max_share`` (``settings.PEOPLE_SYNC_MAX_DEACTIVATE_SHARE``) of the active people
    HR manages, as a truncated extract would. None when it may be applied."""
    if max_share is None:
        max_share = settings.PEOPLE_SYNC_MAX_DEACTIVATE_SHARE
    if not plan.deactivates_too_many(max_share):
        return None
    leaving = len(plan.of_kind(ChangeKind.DEACTIVATE))
    return _(
        "This file would deactivate %(leaving)s of %(people)s people (%(share)s); the most "
        "one sync may deactivate is %(max)s. Check that the file is the whole extract. To "
        "apply it anyway, run “manage.py sync_people FILE --apply --force” on the server."
    ) % {
        "leaving": f"{leaving:,}",
        "people": f"{plan.active_people:,}",
        "share": _percent(leaving / plan.active_people),
        "max": _percent(max_share),
    }


def file_fingerprint(data: bytes) -> str:
    """The SHA-256 of an extract's bytes, in hex: what a dry run shows and an apply checks."""
    return hashlib.sha256(data).hexdigest()


@transaction.atomic
def store_people_sync_upload(
    *, data: bytes, file_name: str, plan: SyncPlan, user
) -> PeopleSyncUpload:
    """Keep an extract that was dry-run (``plan`` is its plan), for applying exactly it."""
    PeopleSyncUpload.objects.filter(
        applied_at=None, created_at__lt=timezone.now() - UPLOAD_KEPT
    ).delete()
    return PeopleSyncUpload.objects.create(
        file_name=file_name[:255],
        content=data,
        sha256=file_fingerprint(data),
        summary=plan.summary(),
        uploaded_by=user,
    )


@transaction.atomic
def apply_people_sync_upload(*, upload: PeopleSyncUpload, sha256: str, user) -> dict[str, int]:
    """Apply the stored extract ``upload`` whose dry run showed the fingerprint
    ``sha256``, once. Refused (``SyncRefused``, nothing changed) if it was applied
    already, if ``sha256`` is not this file's, if the directory changed since the dry
    run (the plan is no longer the one shown), or if it deactivates too many people:
    the page never forces that."""
    upload = PeopleSyncUpload.objects.select_for_update().get(pk=upload.pk)
    if upload.applied_at is not None:
        raise SyncRefused(_("This file was applied already; nothing more to do."))
    data = bytes(upload.content)
    if sha256 != upload.sha256 or file_fingerprint(data) != upload.sha256:
        raise SyncRefused(
            _(
                "That is not the file you previewed, so nothing was applied. Upload the "
                "extract again for a new dry run, and apply that."
            )
        )
    plan = plan_sync(parse_hr_csv(data).rows)
    if plan.errors or plan.summary() != upload.summary:
        raise SyncRefused(
            _(
                "The directory changed since this dry run, so nothing was applied. Upload "
                "the file again to see a fresh dry run."
            )
        )
    summary = sync_people(plan=plan)
    upload.applied_at, upload.applied_by = timezone.now(), user
    upload.save(update_fields=["applied_at", "applied_by"])
    return summary


@transaction.atomic
def sync_people(
    *, plan: SyncPlan, progress: Progress | None = None, force: bool = False
) -> dict[str, int]:
    """Write an HR sync's ``plan`` (``people_sync.plan_sync``) in one transaction;
    returns its ``summary()`` as applied.

    Refused (``SyncRefused``) when it deactivates more than the allowed share of people
    (``deactivation_refusal``), unless ``force``. Writes in batches (one statement per
    ``BATCH_SIZE`` rows, never one per person). Accounts that became admin accounts
    since planning are left alone.
    """
    if plan.errors:
        raise SyncError(plan.errors)
    refusal = None if force else deactivation_refusal(plan)
    if refusal:
        raise SyncRefused(refusal)
    admin_ids = set(
        get_user_model()
        .objects.filter(Q(is_staff=True) | Q(is_superuser=True))
        .values_list("pk", flat=True)
    )
    department_ids = {**plan.department_ids, **_create_departments(plan.new_departments)}
    _create_people(plan.of_kind(ChangeKind.CREATE), department_ids, progress)
    changing = [
        change
        for change in plan.changes
        if change.kind in (ChangeKind.UPDATE, ChangeKind.REACTIVATE)
        and change.user_id not in admin_ids
    ]
    _update_people(changing, department_ids, progress)
    leaving = [
        change for change in plan.of_kind(ChangeKind.DEACTIVATE) if change.user_id not in admin_ids
    ]
    memberships_left = _deactivate_people(leaving, progress)
    changed = [change.username for change in (*plan.of_kind(ChangeKind.CREATE), *changing)]
    if changed:
        evaluate_rules_for_usernames(changed)
    summary = plan.summary()
    summary["memberships_left"] = memberships_left
    return summary


def _create_departments(new_departments: dict[str, str]) -> dict[str, int]:
    created = Department.objects.bulk_create(
        [Department(name=name, slug=slug) for name, slug in new_departments.items()],
        batch_size=BATCH_SIZE,
    )
    return {department.name: department.pk for department in created}


def _create_people(
    changes: list[PersonChange], department_ids: dict[str, int], progress: Progress | None
) -> None:
    user_model = get_user_model()
    done = 0
    for chunk in _chunks(changes, PROGRESS_EVERY):
        users = user_model.objects.bulk_create(
            [
                user_model(
                    username=change.username, password=_unusable_password(), **change.user_fields
                )
                for change in chunk
            ],
            batch_size=BATCH_SIZE,
        )
        _fill_primary_keys(users)
        Member.objects.bulk_create(
            [
                _new_member(user.pk, change, department_ids)
                for user, change in zip(users, chunk, strict=True)
            ],
            batch_size=BATCH_SIZE,
        )
        done += len(chunk)
        if progress:
            progress("Creating", done, len(changes))


def _fill_primary_keys(users: list) -> None:
    """SQLite before 3.35 cannot return the new rows' keys from a bulk insert."""
    if all(user.pk is not None for user in users):
        return
    ids = {}
    for chunk in _chunks([user.username for user in users], IN_CHUNK):
        ids.update(
            get_user_model().objects.filter(username__in=chunk).values_list("username", "pk")
        )
    for user in users:
        user.pk = ids[user.username]


def _new_member(user_id: int, change: PersonChange, department_ids: dict[str, int]) -> Member:
    fields = change.member_fields
    return Member(
        user_id=user_id,
        display_name=fields["display_name"],
        job_title=fields["job_title"],
        department_id=department_ids.get(fields["department"]) if fields["department"] else None,
        location=fields["location"],
    )


def _update_people(
    changes: list[PersonChange], department_ids: dict[str, int], progress: Progress | None
) -> None:
    """Write changed fields and reactivations; untouched people get no UPDATE at all.

    ``bulk_update`` writes the union of the changed fields for every row in the batch,
    which is safe because each ``PersonChange`` carries every field's value.
    """
    user_model = get_user_model()
    now = timezone.now()
    done = 0
    for chunk in _chunks(changes, PROGRESS_EVERY):
        users, user_fields = [], set()
        members, member_fields, new_members = [], set(), []
        for change in chunk:
            changed_user_fields = {name for name in change.changed if name in USER_FIELDS}
            if change.kind == ChangeKind.REACTIVATE:
                changed_user_fields.add("is_active")
            if changed_user_fields:
                users.append(user_model(pk=change.user_id, is_active=True, **change.user_fields))
                user_fields |= changed_user_fields
            if change.member_id is None:
                new_members.append(_new_member(change.user_id, change, department_ids))
                continue
            changed_member_fields = {name for name in change.changed if name in MEMBER_FIELDS}
            if changed_member_fields:
                member = _new_member(change.user_id, change, department_ids)
                member.pk, member.updated_at = change.member_id, now
                members.append(member)
                member_fields |= changed_member_fields
        if users:
            user_model.objects.bulk_update(users, sorted(user_fields), batch_size=BATCH_SIZE)
        if members:
            Member.objects.bulk_update(
                members, [*sorted(member_fields), "updated_at"], batch_size=BATCH_SIZE
            )
        Member.objects.bulk_create(new_members, batch_size=BATCH_SIZE)
        done += len(chunk)
        if progress:
            progress("Updating", done, len(changes))


def _deactivate_people(changes: list[PersonChange], progress: Progress | None) -> int:
    """Deactivate people and end their open memberships, one event each.

    Returns how many memberships were marked left.
    """
    if not changes:
        return 0
    user_model = get_user_model()
    for chunk in _chunks([change.user_id for change in changes], IN_CHUNK):
        user_model.objects.filter(pk__in=chunk, is_staff=False, is_superuser=False).update(
            is_active=False
        )
    if progress:
        progress("Deactivating", len(changes), len(changes))
    left = end_memberships_of(
        member_ids={change.member_id for change in changes if change.member_id is not None}
    )
    if progress:
        progress("Marking memberships left", left, left)
    return left


# No savepoint inside a sync: a failure here undoes the whole sync anyway.
@transaction.atomic(savepoint=False)
def end_memberships_of(
    *, member_ids: Collection[int], actor_name: str = SYNC_ACTOR_NAME, note: str = LEFT_NOTE
) -> int:
    """People who left the organisation (their users already inactive) leave their
    communities: every open membership (active, requested, invited) of ``member_ids``
    moves to ``left``, with one ``MembershipEvent`` each, by ``actor_name``.

    Deliberately not bound by the last-steward and sponsor rules of the roster
    services: someone who left cannot stay a steward, and the admin dashboard shows the
    communities left without one. Returns how many memberships were marked left.
    """
    now = timezone.now()
    # One read for all of them: open memberships of inactive people, narrowed to these
    # people (someone deactivated by hand earlier is not this sync's).
    memberships = [
        values
        for values in Membership.objects.filter(
            state__in=OPEN_STATES, member__user__is_active=False
        ).values_list("pk", "community_id", "member_id", "member__display_name", "state", "role")
        if values[2] in member_ids
    ]
    # Their communities are locked first, as the roster services lock theirs, so the
    # counts below include whatever they commit meanwhile.
    communities = [values[1] for values in memberships if values[4] == Membership.State.ACTIVE]
    _lock_communities(communities)
    overlaps.people_leaving(
        member_ids={values[2] for values in memberships if values[4] == Membership.State.ACTIVE}
    )
    for chunk in _chunks([values[0] for values in memberships], IN_CHUNK):
        Membership.objects.filter(pk__in=chunk).update(
            state=Membership.State.LEFT, note=note, updated_at=now
        )
    _recount_members(communities)
    MembershipEvent.objects.bulk_create(
        [
            MembershipEvent(
                community_id=community_id,
                actor=None,
                actor_name=actor_name,
                target_id=member_id,
                target_name=display_name,
                action=MembershipEvent.Action.LEFT,
                state_before=state,
                state_after=Membership.State.LEFT,
                role_before=role,
                role_after=role,
                note=note,
                created_at=now,
            )
            for _pk, community_id, member_id, display_name, state, role in memberships
        ],
        batch_size=BATCH_SIZE,
    )
    return len(memberships)
