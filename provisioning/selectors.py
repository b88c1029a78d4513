"""Reads for the provisioning page."""

from .models import ProvisionedGroup, ScimToken


def provisioning_overview() -> dict:
    return {
        "tokens": ScimToken.objects.select_related("created_by"),
        "groups": ProvisionedGroup.objects.select_related("community", "department"),
    }
