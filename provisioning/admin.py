from django.contrib import admin

from .models import ProvisionedGroup, ProvisionedUser, ScimToken


@admin.register(ScimToken)
class ScimTokenAdmin(admin.ModelAdmin):
    """For repairs: tokens are made and revoked on the provisioning page."""

    list_display = ["name", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["name", "created_by", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False


@admin.register(ProvisionedUser)
class ProvisionedUserAdmin(admin.ModelAdmin):
    list_display = ["user", "external_id", "provider_name", "updated_at"]
    search_fields = ["user__username", "external_id"]
    raw_id_fields = ["user"]


@admin.register(ProvisionedGroup)
class ProvisionedGroupAdmin(admin.ModelAdmin):
    list_display = ["display_name", "department", "community", "provider_name"]
    search_fields = ["display_name", "external_id"]
    readonly_fields = ["community"]  # linked on the provisioning page, which marks it
