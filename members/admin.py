import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext, gettext_lazy

from .models import Department, Member
from .sync import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    ChangeKind,
    SyncError,
    SyncPlan,
    apply_sync,
    format_summary,
    parse_hr_csv,
    plan_sync,
)

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
LISTED_CHANGES = 50  # of each kind
LISTED_PROBLEMS = 100
SYNC_PERMISSIONS = ("communities.manage_directory", "members.change_member")


def can_sync_people(user) -> bool:
    """Superusers, directory admins and whoever may change members."""
    return user.is_active and (
        user.is_superuser or any(user.has_perm(permission) for permission in SYNC_PERMISSIONS)
    )


class PeopleSyncForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("HR extract (CSV)"),
        help_text=gettext_lazy("UTF-8 CSV with a header row, at most 20 MB."),
    )
    apply = forms.BooleanField(
        label=gettext_lazy("Apply changes"),
        required=False,
        help_text=gettext_lazy(
            "Leave unticked for a dry run: it shows the changes and changes nothing."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                gettext_lazy(
                    "The file is %(size)s; the limit is %(limit)s. For a larger extract, "
                    "run “manage.py sync_people” on the server."
                ),
                code="too_large",
                params={
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(MAX_UPLOAD_BYTES),
                },
            )
        return upload


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "job_title", "department", "location"]
    list_filter = ["department", "user__is_active"]
    list_select_related = ["user", "department"]
    search_fields = ["display_name", "user__username", "user__email", "job_title", "expertise"]
    autocomplete_fields = ["user", "department"]
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False  # an exact count of 100,000 rows on every search is waste
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
        extra_context = {**(extra_context or {}), "can_sync_people": can_sync_people(request.user)}
        return super().changelist_view(request, extra_context)

    def sync_view(self, request):
        """Upload an HR extract: a dry run shows the plan; "Apply changes" applies it.

        The result is rendered, not redirected to: a resubmitted sync is a no-op.
        """
        if not can_sync_people(request.user):
            raise PermissionDenied
        if request.method == "POST":
            form = PeopleSyncForm(request.POST, request.FILES)
        else:
            form = PeopleSyncForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Sync people from HR"),
            "form": form,
            "required_columns": REQUIRED_COLUMNS,
            "optional_columns": OPTIONAL_COLUMNS,
        }
        if form.is_valid():  # only a POST binds the form: a GET never applies anything
            context.update(
                self._sync(request, form.cleaned_data["file"], apply=form.cleaned_data["apply"])
            )
        return TemplateResponse(request, "admin/members/member/sync.html", context)

    def _sync(self, request, upload, *, apply: bool) -> dict:
        try:
            extract = parse_hr_csv(upload.read())
        except SyncError as error:
            return _problems(error.problems)
        plan = plan_sync(extract.rows)
        context = {
            "plan": plan,
            "ignored_columns": extract.ignored_columns,
            "summary_rows": _summary_rows(plan.summary()),
            "changes": _change_rows(plan),
            "applied": False,
        }
        if plan.errors:
            return {**context, **_problems(plan.errors)}
        if apply and not plan.is_empty:
            try:
                summary = apply_sync(plan)
            except DatabaseError:
                logger.exception("HR sync by %s failed", request.user)
                messages.error(
                    request,
                    gettext(
                        "The database refused the changes (has someone changed these people "
                        "meanwhile?). Nothing was changed; run the sync again."
                    ),
                )
                return context
            logger.info("HR sync applied by %s: %s", request.user, format_summary(summary))
            context.update(applied=True, summary_rows=_summary_rows(summary))
            messages.success(request, gettext("The changes are applied."))
        elif apply:
            messages.info(
                request, gettext("Nothing to change: the directory already matches the file.")
            )
        return context


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
