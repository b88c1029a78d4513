from django.contrib import admin

from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["subject", "state", "attempts", "created_at", "sent_at", "next_attempt_at"]
    list_filter = ["state"]
    search_fields = ["subject", "recipients"]
    readonly_fields = ["headers", "created_at", "sent_at", "lease_until", "last_error"]
    date_hierarchy = "created_at"
