from django.contrib import admin

from .models import Department, Member


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    """People. Registered again, with the HR sync page, by the app that owns the
    memberships a sync ends."""

    list_display = ["display_name", "user", "job_title", "department", "location"]
    list_filter = ["department", "user__is_active"]
    list_select_related = ["user", "department"]
    search_fields = ["display_name", "user__username", "user__email", "job_title", "expertise"]
    autocomplete_fields = ["user", "department"]
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False  # an exact count of 100,000 rows on every search is waste
