"""Writes for SCIM provisioning: tokens, people and groups as an identity provider
pushes them. Every function is atomic; a refusal raises ``ProvisioningError`` (or its
``ProvisioningConflict``) and changes nothing.

People leaving go through the HR sync's own service (``end_memberships_of``): their
open memberships move to "left", one event each by the provider, nothing is deleted,
and the last-steward rule is reported on the admin dashboard rather than refusing the
provider. Roster changes for a group linked to a knowledge community go through the
communities' provider services, which record one event per change.
"""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities import services as community_services
from communities.models import Community, Membership
from members.models import Department, Member

from .models import ProvisionedGroup, ProvisionedUser, ScimToken

User = get_user_model()

TOKEN_BYTES = 32
# ``last_used_at`` is written at most this often per token, not on every request.
LAST_USED_EVERY = timedelta(minutes=1)
LEFT_NOTE = "Deactivated by the identity provider"
REMOVED_FROM_GROUP_NOTE = "Removed from the group in the identity provider"


class ProvisioningError(Exception):
    """A request the directory refuses; the message says why. Nothing changed."""


class ProvisioningConflict(ProvisioningError):
    """The value must be unique and another person or group has it (HTTP 409)."""


# -- tokens -----------------------------------------------------------------------------


def hash_token(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@transaction.atomic
def create_token(*, name: str, created_by) -> tuple[ScimToken, str]:
    """A new bearer token named ``name``; returns it and its value, which is stored
    only as a hash and so can be shown this once."""
    value = secrets.token_urlsafe(TOKEN_BYTES)
    token = ScimToken.objects.create(
        name=name.strip()[:100], token_hash=hash_token(value), created_by=created_by
    )
    return token, value


@transaction.atomic
def revoke_token(*, token: ScimToken) -> ScimToken:
    """Stop ``token`` working at once (kept, for the record of who made and used it)."""
    token = ScimToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def authenticate_token(value: str) -> ScimToken | None:
    """The unrevoked token whose value is ``value``, or None; notes when it was used."""
    if not value:
        return None
    token = ScimToken.objects.usable().filter(token_hash=hash_token(value)).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# -- people -----------------------------------------------------------------------------


def provisionable_users():
    """The accounts SCIM sees and changes: everyone but Django staff and superusers,
    whom, as the HR sync does, an identity provider never changes."""
    return User.objects.filter(is_staff=False, is_superuser=False).exclude(
        provisioned__deleted_at__isnull=False
    )


# What a SCIM User carries, as kcdir stores it (``scim.UserAdapter`` reads requests
# into this shape): every key is optional in a change.
USER_FIELDS = ("username", "first_name", "last_name", "email")
MEMBER_FIELDS = ("display_name", "job_title")


def _username_taken(username: str, *, other_than=None) -> bool:
    users = User.objects.filter(username__iexact=username)
    if other_than is not None:
        users = users.exclude(pk=other_than.pk)
    return users.exists()


@transaction.atomic
def save_user(*, user=None, values: dict, provider_name: str):
    """Create a person (``user`` None) or change one from ``values``: any of
    ``username``, ``first_name``, ``last_name``, ``email``, ``display_name``,
    ``job_title``, ``department`` (a name; "" for none), ``external_id`` and ``active``.

    A new person gets an unusable password (they sign in through single sign-on).
    ``active`` False deactivates them as the HR sync does (``deactivate_user``); True
    again reactivates the account, and their memberships stay left.
    """
    if user is not None:  # locked first, so the values left out are read as they are now
        user = User.objects.select_for_update().get(pk=user.pk)
    username = values.get("username", user.username if user else "")
    username = (username or "").strip()
    if not username:
        raise ProvisioningError(_("userName is required."))
    if len(username) > 150:
        raise ProvisioningError(_("userName is longer than 150 characters."))
    values = dict(values)
    if user is None:
        user = _deleted_user_named(username)
        if user is not None:  # created again after a DELETE: the same person, back
            ProvisionedUser.objects.filter(user=user).update(deleted_at=None)
            values.setdefault("active", True)
    if _username_taken(username, other_than=user):
        raise ProvisioningConflict(_("Another person has the userName %s.") % username)
    creating = user is None
    if creating:
        user = User(username=username, password=make_password(None), is_active=True)
    was_active = user.is_active
    user.username = username
    for field in USER_FIELDS[1:]:
        if field in values:
            setattr(user, field, (values[field] or "")[: 150 if field != "email" else 254])
    user.save()

    member = Member.objects.filter(user=user).first() or Member(user=user)
    for field in MEMBER_FIELDS:
        if field in values:
            setattr(member, field, (values[field] or "")[:150])
    if not member.display_name:
        member.display_name = (user.get_full_name() or user.username)[:150]
    if "department" in values:
        member.department = Department.objects.named(values["department"])
    member.save()

    if "external_id" in values or creating:
        ProvisionedUser.objects.update_or_create(
            user=user,
            defaults={
                "external_id": (values.get("external_id") or "")[:255],
                "provider_name": provider_name[:100],
            },
        )
    active = values.get("active")
    if active is False and was_active:
        deactivate_user(user=user, provider_name=provider_name)
    elif active is True and not was_active:
        User.objects.filter(pk=user.pk).update(is_active=True)
    elif active is False and creating:
        User.objects.filter(pk=user.pk).update(is_active=False)
    community_services.evaluate_rules_for_members(member_ids=[member.pk])
    user.refresh_from_db()
    return user


def _deleted_user_named(username: str):
    return User.objects.filter(
        username__iexact=username,
        is_staff=False,
        is_superuser=False,
        provisioned__deleted_at__isnull=False,
    ).first()


@transaction.atomic
def deactivate_user(*, user, provider_name: str, deleted: bool = False) -> int:
    """Deactivate ``user`` (never delete) and end their open memberships through the
    HR sync's service: "left", one event each by ``provider_name``. A community left
    without a steward is listed on the admin dashboard. ``deleted`` (a SCIM DELETE)
    also hides them from the provider. Returns how many memberships ended."""
    if deleted:
        ProvisionedUser.objects.update_or_create(
            user=user,
            defaults={"deleted_at": timezone.now(), "provider_name": provider_name[:100]},
        )
    User.objects.filter(pk=user.pk, is_staff=False, is_superuser=False).update(is_active=False)
    member = Member.objects.filter(user=user).first()
    if member is None:
        return 0
    return community_services.end_memberships_of(
        member_ids={member.pk}, actor_name=provider_name[:150], note=LEFT_NOTE
    )


# -- groups -----------------------------------------------------------------------------


def group_members(group: ProvisionedGroup):
    """The people in ``group``: the linked community's active members, or else those
    whose department it is."""
    if group.community_id:
        return Member.objects.filter(
            memberships__community_id=group.community_id,
            memberships__state=Membership.State.ACTIVE,
            user__is_active=True,
        )
    if group.department_id:
        return Member.objects.filter(department_id=group.department_id, user__is_active=True)
    return Member.objects.none()


def group_member_ids(groups: Iterable[ProvisionedGroup]) -> dict[int, list[int]]:
    """The user ids of each group's people (as ``group_members``, by display name), for
    many groups in two queries: one for departments, one for linked communities."""
    groups = list(groups)
    by_department, by_community = {}, {}
    for group in groups:
        if group.community_id:
            by_community.setdefault(group.community_id, []).append(group.pk)
        elif group.department_id:
            by_department.setdefault(group.department_id, []).append(group.pk)
    found: dict[int, list[int]] = {group.pk: [] for group in groups}
    if by_department:
        people = (
            Member.objects.filter(department_id__in=by_department, user__is_active=True)
            .order_by("display_name", "pk")
            .values_list("department_id", "user_id")
        )
        for department_id, user_id in people:
            for group_pk in by_department[department_id]:
                found[group_pk].append(user_id)
    if by_community:
        people = (
            Membership.objects.filter(
                community_id__in=by_community,
                state=Membership.State.ACTIVE,
                member__user__is_active=True,
            )
            .order_by("member__display_name", "member_id")
            .values_list("community_id", "member__user_id")
        )
        for community_id, user_id in people:
            for group_pk in by_community[community_id]:
                found[group_pk].append(user_id)
    return found


def members_of_users(user_ids: Iterable[str]) -> list[Member]:
    """The members of the people with these SCIM ids; refused if any is not one."""
    wanted = set()
    for value in user_ids:
        try:
            wanted.add(int(value))
        except (TypeError, ValueError):
            raise ProvisioningError(_("No person has the id %s.") % value) from None
    users = list(provisionable_users().filter(pk__in=wanted))
    missing = wanted - {user.pk for user in users}
    if missing:
        raise ProvisioningError(
            _("No person has the id %s.") % ", ".join(str(pk) for pk in sorted(missing))
        )
    return [Member.objects.for_user(user) for user in users]


def _name_taken(display_name: str, *, other_than=None) -> bool:
    groups = ProvisionedGroup.objects.filter(display_name__iexact=display_name)
    if other_than is not None:
        groups = groups.exclude(pk=other_than.pk)
    return groups.exists()


@transaction.atomic
def save_group(
    *,
    group: ProvisionedGroup | None = None,
    values: dict,
    provider_name: str,
    add: Iterable[Member] = (),
    remove: Iterable[Member] = (),
    members: Iterable[Member] | None = None,
) -> ProvisionedGroup:
    """Create a group (``group`` None) or change one: ``values`` may hold
    ``display_name`` and ``external_id``; people are added (``add``), taken out
    (``remove``) or the whole list set (``members``). A new group is a department of
    the same name (created if new) until a directory admin links it to a community."""
    display_name = (values.get("display_name", group.display_name if group else "") or "").strip()
    if not display_name:
        raise ProvisioningError(_("displayName is required."))
    if _name_taken(display_name, other_than=group):
        raise ProvisioningConflict(_("Another group is called %s.") % display_name)
    if group is None:
        group = ProvisionedGroup(
            provider_name=provider_name[:100], department=Department.objects.named(display_name)
        )
    else:
        group = ProvisionedGroup.objects.select_for_update().get(pk=group.pk)
    group.display_name = display_name[:120]
    if "external_id" in values:
        group.external_id = (values["external_id"] or "")[:255]
    group.save()
    add, remove = list(add), list(remove)
    if members is not None:
        wanted = {member.pk for member in members}
        current = list(group_members(group))
        add = [member for member in members if member.pk not in {m.pk for m in current}]
        remove = [member for member in current if member.pk not in wanted]
    if add:
        _add_to_group(group, add, provider_name)
    if remove:
        _remove_from_group(group, remove, provider_name)
    return group


def _add_to_group(group: ProvisionedGroup, members: list[Member], provider_name: str) -> None:
    if group.community_id:
        try:
            community_services.add_members_by_provider(
                community=group.community, members=members, actor_name=provider_name
            )
        except community_services.ServiceError as error:
            raise ProvisioningError(str(error)) from error
    elif group.department_id:
        Member.objects.filter(pk__in=[member.pk for member in members]).update(
            department_id=group.department_id, updated_at=timezone.now()
        )
        community_services.evaluate_rules_for_members(member_ids=[m.pk for m in members])


def _remove_from_group(group: ProvisionedGroup, members: list[Member], provider_name: str):
    if group.community_id:
        community_services.remove_members_by_provider(
            community=group.community, members=members, actor_name=provider_name
        )
    elif group.department_id:
        Member.objects.filter(
            pk__in=[member.pk for member in members], department_id=group.department_id
        ).update(department=None, updated_at=timezone.now())
        community_services.evaluate_rules_for_members(member_ids=[m.pk for m in members])


@transaction.atomic
def delete_group(*, group: ProvisionedGroup) -> None:
    """The provider no longer pushes ``group``: forget it. Nothing else is deleted: its
    department and people's departments stay, and a linked community's list stays as
    it is and is kcdir's own again (people join and leave on its page)."""
    if group.community_id:
        community_services.set_membership_manager(community=group.community, provider_name="")
    group.delete()


@transaction.atomic
def link_group(*, group: ProvisionedGroup, community: Community | None) -> ProvisionedGroup:
    """Make ``group`` the membership list of ``community`` (a knowledge community), or
    with None a department again. The community is marked as managed by the group's
    identity provider; its people now are those the provider adds from then on (the
    list is not changed by linking). Unlinking gives the list back to kcdir."""
    group = ProvisionedGroup.objects.select_for_update().get(pk=group.pk)
    if community is not None and not community.is_kc:
        raise ProvisioningError(_("Only a knowledge community has a membership list to link."))
    if group.community_id and (community is None or community.pk != group.community_id):
        community_services.set_membership_manager(community=group.community, provider_name="")
    if community is not None:
        other = ProvisionedGroup.objects.filter(community=community).exclude(pk=group.pk).first()
        if other is not None:
            raise ProvisioningConflict(
                _("%(community)s is linked to the group %(group)s already.")
                % {"community": community.name, "group": other.display_name}
            )
        community_services.set_membership_manager(
            community=community,
            provider_name=group.provider_name or _("the identity provider"),
        )
    group.community = community
    group.save(update_fields=["community", "updated_at"])
    return group
