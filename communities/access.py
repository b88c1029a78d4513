"""Who may see or touch what. Views ask here; nothing else decides access.

Each helper returns the object or raises ``Http404``/``PermissionDenied``:
404 when the object does not exist (or may not be known to exist),
403 when it exists but this person may not act on it.
"""

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404

from members.models import Member

from .models import Community, Membership

DIRECTORY_ADMINS_GROUP = "Directory admins"
MANAGE_DIRECTORY_PERMISSION = "communities.manage_directory"


def is_directory_admin(user) -> bool:
    """Superuser, or holds ``manage_directory`` directly or through a group.

    One query, remembered on the user object for the rest of the request (Django's
    ``has_perm`` would load every permission in two).
    """
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_kcdir_directory_admin", None)
    if cached is None:
        app_label, codename = MANAGE_DIRECTORY_PERMISSION.split(".")
        cached = (
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            .filter(Q(group__user=user) | Q(user=user))
            .exists()
        )
        user._kcdir_directory_admin = cached
    return cached


def is_steward(user, community: Community) -> bool:
    """Active steward of this community (a directory admin counts everywhere)."""
    if is_directory_admin(user):
        return True
    return Membership.objects.filter(
        community=community,
        member__user=user,
        state=Membership.State.ACTIVE,
        role=Membership.Role.STEWARD,
    ).exists()


def is_active_steward(membership: Membership | None) -> bool:
    return (
        membership is not None
        and membership.state == Membership.State.ACTIVE
        and membership.role == Membership.Role.STEWARD
    )


def community_for_viewer(user, slug: str, queryset=None) -> Community:
    """A community any signed-in person may see; proposals only to directory admins
    and to whoever proposed them. ``queryset`` lets a page load what it shows at once."""
    queryset = Community.objects.all() if queryset is None else queryset
    community = get_object_or_404(queryset.select_related("proposed_by"), slug=slug)
    if (
        community.status == Community.Status.PROPOSED
        and not is_directory_admin(user)
        and not (community.proposed_by and community.proposed_by.user_id == user.pk)
    ):
        raise Http404("No such community.")
    return community


def community_for_steward(user, slug: str) -> Community:
    """A community this user may curate: its stewards and directory admins."""
    community = community_for_viewer(user, slug)
    if not is_steward(user, community):
        raise PermissionDenied("Only this community's stewards and directory admins can do that.")
    return community


def membership_for_steward(user, slug: str, pk: int) -> tuple[Community, Membership]:
    """A membership of a community this user curates; never one of another community."""
    community = community_for_steward(user, slug)
    membership = get_object_or_404(
        Membership.objects.select_related("member__user"), pk=pk, community=community
    )
    return community, membership


def member_history_for_viewer(user, username: str) -> Member:
    """A person's roster history: visible to that person and to directory admins."""
    member = get_object_or_404(Member.objects.select_related("user"), user__username=username)
    if member.user_id != user.pk and not is_directory_admin(user):
        raise PermissionDenied("Only this person and directory admins can see their history.")
    return member


def require_directory_admin(user) -> None:
    if not is_directory_admin(user):
        raise PermissionDenied("Only directory admins can do that.")
