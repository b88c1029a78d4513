from django.contrib import admin

from .models import Community, Membership, MembershipEvent, Purpose


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    list_display = ["statement", "orientation", "created_at"]
    list_filter = ["orientation"]
    search_fields = ["statement", "description"]
    prepopulated_fields = {"slug": ["statement"]}


class MembershipInline(admin.StackedInline):
    """Leaders, read-only: roster changes go through the app's services (and history);
    the Memberships change list is there for repairs."""

    model = Membership
    fk_name = "community"
    fields = ["member", "role", "state", "decided_by", "decided_at", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Big communities: the admin shows leaders here; the full roster lives in
        # the Memberships change list, filtered by community.
        return (
            super()
            .get_queryset(request)
            .filter(role__in=[Membership.Role.SPONSOR, Membership.Role.STEWARD])
            .select_related("member", "decided_by")
        )


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "stage", "join_policy", "created_at"]
    list_filter = ["kind", "status", "stage", "join_policy"]
    search_fields = ["name", "slug", "summary"]
    prepopulated_fields = {"slug": ["name"]}
    # Plain id inputs (with a lookup) rather than select2 widgets, which lack labels.
    raw_id_fields = ["purposes", "formed_from", "merged_into", "proposed_by", "suggested_sponsor"]
    readonly_fields = ["created_at", "updated_at", "declined_at"]
    inlines = [MembershipInline]
    show_full_result_count = False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["member", "community", "role", "state", "decided_at", "created_at"]
    list_filter = ["role", "state", "community__kind"]
    list_select_related = ["member", "community"]
    search_fields = ["member__display_name", "member__user__username", "community__name"]
    autocomplete_fields = ["member", "community", "decided_by"]
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False


@admin.register(MembershipEvent)
class MembershipEventAdmin(admin.ModelAdmin):
    """History is append-only: visible here, never editable or deletable."""

    list_display = ["created_at", "community", "action", "target_name", "actor_name"]
    list_filter = ["action"]
    list_select_related = ["community"]
    search_fields = ["target_name", "actor_name", "community__name"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
