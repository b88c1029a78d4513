from django.contrib import admin

from .models import IdentityLink


@admin.register(IdentityLink)
class IdentityLinkAdmin(admin.ModelAdmin):
    list_display = ["provider", "subject", "user", "created_at", "last_sign_in_at"]
    list_filter = ["provider"]
    search_fields = ["subject", "user__username", "user__email"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at", "last_sign_in_at"]
