import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext, gettext_lazy

from members.admin import MemberAdmin
from members.models import Member

from . import access, services
from .models import Community, Membership, MembershipEvent, PeopleSyncUpload, Purpose
from .people_sync import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    ChangeKind,
    SyncError,
    SyncPlan,
    format_summary,
    parse_hr_csv,
    plan_sync,
)

logger = logging.getLogger(__name__)


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
    """For looking up and repairing notes. Who is on which list, in what role and state,
    changes only through the app's pages and their services, which write the history:
    here those fields are read-only, and memberships are neither added nor deleted
    (one goes only with its person or community, when a superuser deletes those)."""

    list_display = ["member", "community", "role", "state", "decided_at", "created_at"]
    list_filter = ["role", "state", "community__kind"]
    list_select_related = ["member", "community"]
    search_fields = ["member__display_name", "member__user__username", "community__name"]
    fields = [
        "member",
        "community",
        "role",
        "state",
        "note",
        "decided_by",
        "decided_at",
        "active_since",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "member",
        "community",
        "role",
        "state",
        "decided_by",
        "decided_at",
        "active_since",
        "created_at",
        "updated_at",
    ]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    # Not has_delete_permission: deleting a person or a community (a superuser's repair)
    # deletes their memberships too, and the admin asks that permission for each.
    def delete_view(self, request, object_id, extra_context=None):
        raise PermissionDenied

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, extra_context)


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


# -- people sync from HR, on the Members page ------------------------------------------

MAX_EXTRACT_BYTES = 20 * 1024 * 1024
LISTED_CHANGES = 50  # of each kind
LISTED_PROBLEMS = 100


class PeopleSyncForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("HR extract (CSV)"),
        help_text=gettext_lazy(
            "UTF-8 CSV with a header row, columns separated by commas, semicolons or tabs; "
            "at most 20 MB."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_EXTRACT_BYTES:
            raise forms.ValidationError(
                gettext_lazy(
                    "The file is %(size)s; the limit is %(limit)s. For a larger extract, "
                    "run “manage.py sync_people” on the server."
                ),
                code="too_large",
                params={
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(MAX_EXTRACT_BYTES),
                },
            )
        return upload


class PeopleSyncApplyForm(forms.Form):
    """ "Apply these changes" under a dry run: the stored file and its fingerprint."""

    upload = forms.IntegerField(widget=forms.HiddenInput)
    sha256 = forms.CharField(max_length=64, widget=forms.HiddenInput)


admin.site.unregister(Member)


@admin.register(Member)
class PeopleSyncMemberAdmin(MemberAdmin):
    """The Members page, with "Sync people from HR": the sync ends the memberships of
    people who left, so it lives with the communities."""

    change_list_template = "admin/members/member/change_list.html"

    def get_urls(self):
        return [
            path(
                "sync/",
                self.admin_site.admin_view(self.sync_view),
                name="members_member_sync",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_sync_people": access.may_sync_people(request.user),
        }
        return super().changelist_view(request, extra_context)

    def sync_view(self, request):
        """Upload an HR extract for a dry run, which shows the plan and keeps the file;
        "Apply these changes" under it applies exactly that file (its SHA-256 is checked),
        never a new upload. A file that deactivates too many people is not offered for
        applying: only ``manage.py sync_people --force`` goes past that limit.

        The result is rendered, not redirected to: a resubmitted Apply is refused.
        """
        if not access.may_sync_people(request.user):
            raise PermissionDenied
        form = PeopleSyncForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Sync people from HR"),
            "required_columns": REQUIRED_COLUMNS,
            "optional_columns": OPTIONAL_COLUMNS,
            "max_share": services.deactivation_limit(),
        }
        if request.method == "POST" and "upload" in request.POST:
            context.update(self._apply(request, PeopleSyncApplyForm(request.POST)))
        elif request.method == "POST":  # only a POST binds the form: a GET changes nothing
            form = PeopleSyncForm(request.POST, request.FILES)
            if form.is_valid():
                context.update(self._dry_run(request, form.cleaned_data["file"]))
        context["form"] = form
        return TemplateResponse(request, "admin/members/member/sync.html", context)

    def _dry_run(self, request, upload) -> dict:
        data = upload.read()
        try:
            extract = parse_hr_csv(data)
        except SyncError as error:
            return _problems(error.problems)
        plan = plan_sync(extract.rows)
        context = {
            **_plan_context(plan),
            "ignored_columns": extract.ignored_columns,
            "file_name": upload.name,
            "sha256": services.file_fingerprint(data),
        }
        if plan.errors:
            return {**context, **_problems(plan.errors)}
        if context["refusal"] or plan.is_empty:
            return context
        stored = services.store_people_sync_upload(
            data=data, file_name=upload.name, plan=plan, user=request.user
        )
        context["apply_form"] = PeopleSyncApplyForm(
            initial={"upload": stored.pk, "sha256": stored.sha256}
        )
        return context

    def _apply(self, request, form: PeopleSyncApplyForm) -> dict:
        stored = (
            PeopleSyncUpload.objects.filter(pk=form.cleaned_data["upload"]).first()
            if form.is_valid()
            else None
        )
        if stored is None:
            messages.error(
                request, gettext("That dry run is no longer kept: upload the file again.")
            )
            return {}
        try:
            summary = services.apply_people_sync_upload(
                upload=stored, sha256=form.cleaned_data["sha256"], user=request.user
            )
        except services.ServiceError as error:
            messages.error(request, str(error))
            return {}
        except DatabaseError:
            logger.exception("HR sync by %s failed", request.user)
            messages.error(
                request,
                gettext(
                    "The database refused the changes (has someone changed these people "
                    "meanwhile?). Nothing was changed; run the sync again."
                ),
            )
            return {}
        logger.info(
            "HR sync of %s (SHA-256 %s) applied by %s: %s",
            stored.file_name,
            stored.sha256,
            request.user,
            format_summary(summary),
        )
        messages.success(request, gettext("The changes are applied."))
        return {
            "applied": True,
            "summary_rows": _summary_rows(summary),
            "file_name": stored.file_name,
            "sha256": stored.sha256,
        }


def _plan_context(plan: SyncPlan) -> dict:
    """What the page shows of a dry run's ``plan``."""
    return {
        "plan": plan,
        "summary_rows": _summary_rows(plan.summary()),
        "changes": _change_rows(plan),
        "refusal": services.deactivation_refusal(plan),
        "applied": False,
    }


def _problems(problems: list[str]) -> dict:
    return {
        "problems": problems[:LISTED_PROBLEMS],
        "more_problems": max(len(problems) - LISTED_PROBLEMS, 0),
    }


def _summary_rows(summary: dict[str, int]) -> list[tuple[str, int]]:
    labels = {
        "rows": gettext("People in the file"),
        "created": gettext("Created"),
        "updated": gettext("Updated"),
        "reactivated": gettext("Reactivated"),
        "deactivated": gettext("Deactivated"),
        "memberships_left": gettext("Memberships marked left"),
        "unchanged": gettext("Unchanged"),
        "departments_created": gettext("New departments"),
        "admin_accounts_skipped": gettext("Admin accounts in the file, skipped"),
    }
    return [(label, summary[key]) for key, label in labels.items()]


def _change_rows(plan: SyncPlan) -> list[tuple[str, list, int]]:
    """``(heading, first changes, how many more)`` for each kind of change."""
    headings = {
        ChangeKind.CREATE: gettext("New people"),
        ChangeKind.UPDATE: gettext("Changed details"),
        ChangeKind.REACTIVATE: gettext("Returning people (reactivated)"),
        ChangeKind.DEACTIVATE: gettext("People who left (deactivated)"),
    }
    return [(headings[kind], changes, more) for kind, changes, more in plan.sample(LISTED_CHANGES)]
