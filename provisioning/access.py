"""Who may manage SCIM provisioning: directory admins (tokens, linking groups)."""

from django.shortcuts import get_object_or_404

from communities import access as community_access

from .models import ProvisionedGroup, ScimToken


def require_provisioning_admin(user) -> None:
    """Tokens let a provider change everyone: directory admins only."""
    community_access.require_directory_admin(user)


def token_for_revoking(user, pk: int) -> ScimToken:
    require_provisioning_admin(user)
    return get_object_or_404(ScimToken, pk=pk)


def group_for_linking(user, pk: int) -> ProvisionedGroup:
    require_provisioning_admin(user)
    return get_object_or_404(ProvisionedGroup, pk=pk)
