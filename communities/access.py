"""Who may see or touch what. Views ask here; nothing else decides access."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Community

DIRECTORY_ADMINS_GROUP = "Directory admins"
MANAGE_DIRECTORY_PERMISSION = "communities.manage_directory"


def is_directory_admin(user) -> bool:
    return user.is_authenticated and user.has_perm(MANAGE_DIRECTORY_PERMISSION)


def community_for_viewer(user, slug: str) -> Community:
    """A community any signed-in person may see; proposals only to directory admins."""
    community = get_object_or_404(Community, slug=slug)
    if community.status == Community.Status.PROPOSED and not is_directory_admin(user):
        raise Http404("No such community.")
    return community
