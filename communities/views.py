from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from background import outbox

from . import access, selectors, services
from .csv_io import exports, roster_upload
from .dashboard import dashboard_context
from .forms import (
    AddMembersForm,
    CommunityCreateForm,
    CommunityEditForm,
    DecisionForm,
    DefaultTermForm,
    DirectoryFilterForm,
    FormaliseForm,
    HistoryFilterForm,
    LadderFilterForm,
    MergeChooseForm,
    MergeConfirmForm,
    NoteForm,
    ProposalDecisionForm,
    ProposeKcForm,
    RecordCopForm,
    ReviewStartForm,
    RoleForm,
    RosterFilterForm,
    RosterImportForm,
    RosterImportModeForm,
    SearchForm,
    StageForm,
)
from .models import Community, Membership
from .tasks import describe_import


def community_list(request):
    # The filters and results are drawn once per directory version and query string
    # (the template's cached_section): nothing below is read on a hit.
    def directory_form():
        form = DirectoryFilterForm(request.GET)
        form.is_valid()  # the section shows the cleaned values from its first line
        return form

    form = SimpleLazyObject(directory_form)
    search = SimpleLazyObject(
        lambda: selectors.directory_search(
            lambda query: form.filtered(Community.objects.for_directory(), query),
            form.query,
            request.GET.get("page"),
        )
    )
    return render(
        request,
        "communities/community_list.html",
        {
            "form": form,
            "search": search,
            "page_obj": SimpleLazyObject(lambda: search.page),
            "is_directory_admin": access.is_directory_admin(request.user),
        },
    )


def community_detail(request, slug):
    community = access.community_for_viewer(
        request.user,
        slug,
        queryset=Community.objects.with_counts()
        .with_leaders()
        .select_related("formed_from", "merged_into", "membership_rule")
        # Few communities of practice were ever formalised: ask with the community, and
        # read the knowledge communities formed from it only when there are some.
        .annotate(formalised=Exists(Community.objects.listed().filter(formed_from=OuterRef("pk")))),
    )
    # The roster's pages are drawn once per directory version (the template's
    # cached_section): the page is read only when the section is drawn. The whole list
    # is as long as the community's active members, already counted above.
    roster_form = SearchForm(request.GET)
    roster_page = SimpleLazyObject(
        lambda: selectors.roster_page(
            community,
            roster_form.query,
            request.GET.get("page"),
            count=None if roster_form.query else community.active_member_count or 0,
        )
    )
    viewer_membership = (
        community.memberships.filter(member=request.member).select_related("rule_mark").first()
    )
    stewardship = access.stewardship_links(request.user, community, viewer_membership)
    return render(
        request,
        "communities/community_detail.html",
        {
            "community": community,
            "roster_form": roster_form,
            "roster_page": roster_page,
            "viewer_membership": viewer_membership,
            "actions": access.membership_actions(community, viewer_membership),
            "cannot_leave": access.why_cannot_leave(community, viewer_membership),
            "stewardship": stewardship,
            "stage_form": StageForm(initial={"stage": community.stage})
            if stewardship.manage
            else None,
            "stage_changes": community.stage_changes.all()[:10],
            "formalised_as": community.formalised_as.listed()
            if community.is_cop and community.formalised
            else [],
        },
    )


def purpose_list(request):
    form = SearchForm(request.GET)
    page = selectors.purposes_page(form.query, request.GET.get("page"))
    return render(request, "communities/purpose_list.html", {"form": form, "page_obj": page})


def purpose_detail(request, slug):
    purpose = access.purpose_for_viewer(request.user, slug)
    page = selectors.pursuing_page(purpose, request.GET.get("page"))
    return render(
        request, "communities/purpose_detail.html", {"purpose": purpose, "page_obj": page}
    )


# -- joining (staff) ---------------------------------------------------------------------


def _attempt(request, action, success_message: str) -> bool:
    """Run a service; show its refusal as a message instead of an error page."""
    try:
        action()
    except services.ServiceError as error:
        messages.error(request, str(error))
        return False
    messages.success(request, success_message)
    return True


@require_POST
def membership_join(request, slug):
    community = access.community_for_viewer(request.user, slug)
    _attempt(
        request,
        lambda: services.join_community(community=community, member=request.member),
        _("Welcome to %(community)s.") % {"community": community.name}
        if community.is_kc
        else _("You now practise in %(community)s.") % {"community": community.name},
    )
    return redirect(community)


@require_POST
def membership_request(request, slug):
    community = access.community_for_viewer(request.user, slug)
    form = NoteForm(request.POST)
    if form.is_valid():
        _attempt(
            request,
            lambda: services.request_membership(
                community=community, member=request.member, note=form.cleaned_data["note"]
            ),
            _("Request sent to the stewards."),
        )
    else:
        messages.error(request, _("Your note is too long (1,000 characters at most)."))
    return redirect(community)


@require_POST
def membership_cancel(request, slug):
    community = access.community_for_viewer(request.user, slug)
    _attempt(
        request,
        lambda: services.cancel_request(community=community, member=request.member),
        _("Your request is withdrawn."),
    )
    return redirect(community)


@require_POST
def invitation_accept(request, slug):
    community = access.community_for_viewer(request.user, slug)
    _attempt(
        request,
        lambda: services.accept_invitation(community=community, member=request.member),
        _("Welcome to %(community)s.") % {"community": community.name},
    )
    return redirect(community)


@require_POST
def invitation_decline(request, slug):
    community = access.community_for_viewer(request.user, slug)
    _attempt(
        request,
        lambda: services.decline_invitation(community=community, member=request.member),
        _("Invitation declined."),
    )
    return redirect(community)


def membership_leave(request, slug):
    """GET asks for confirmation (or says why they cannot leave yet); POST leaves."""
    community = access.community_for_viewer(request.user, slug)
    if request.method == "POST":
        _attempt(
            request,
            lambda: services.leave_community(community=community, member=request.member),
            _("You left %(community)s.") % {"community": community.name},
        )
        return redirect(community)
    membership = community.memberships.filter(member=request.member).first()
    return render(
        request,
        "communities/membership_leave.html",
        {
            "community": community,
            "cannot_leave": access.why_cannot_leave(community, membership),
            "may_manage": access.may_curate(request.user, community, membership=membership),
            "rejoining_needs_a_steward": access.rejoining_needs_a_steward(community),
        },
    )


# -- curating (stewards and directory admins) -------------------------------------------


MANAGE_PAGE_SIZE = 50


def community_manage(request, slug):
    community = access.community_for_steward(request.user, slug)
    filter_form = RosterFilterForm(request.GET)
    filter_form.is_valid()  # shows its values and errors; the lists use the valid ones
    lists = selectors.manage_lists(
        community,
        filter_form.filtered(community.memberships.all()),
        filters=filter_form.cleaned_data,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
        requests_page=request.GET.get("requests_page"),
        per_page=MANAGE_PAGE_SIZE,
    )
    return render(
        request,
        "communities/community_manage.html",
        {
            "community": community,
            "filter_form": filter_form,
            "roster_page": lists.roster_page,
            "waiting_page": lists.waiting_page,
            "roles": _roles_for(community),
        },
    )


def _roles_for(community):
    if community.is_kc:
        return [
            (Membership.Role.MEMBER, _("Member")),
            (Membership.Role.STEWARD, _("Steward")),
            (Membership.Role.SPONSOR, _("Sponsor")),
        ]
    return [
        (Membership.Role.PARTICIPANT, _("Participant")),
        (Membership.Role.STEWARD, _("Coordinator")),
    ]


def _manage_url(community):
    return reverse("communities:community_manage", args=[community.slug])


@require_POST
def requests_decide(request, slug):
    community = access.community_for_steward(request.user, slug)
    data = request.POST.copy()
    if "one" in data:  # a row's own Approve/Deny button: "approve:<pk>"
        decision, _sep, pk = data["one"].partition(":")
        data["decision"] = decision
        data.setlist("memberships", [pk])
    form = DecisionForm(data, community=community)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(_manage_url(community))
    approve = form.cleaned_data["decision"] == "approve"
    decided = []
    for membership in form.cleaned_data["memberships"]:
        try:
            if approve:
                services.approve_request(
                    community=community, membership=membership, actor=request.member
                )
            else:
                services.deny_request(
                    community=community,
                    membership=membership,
                    actor=request.member,
                    reason=form.cleaned_data["reason"],
                )
        except services.ServiceError as error:
            messages.error(request, str(error))
        else:
            decided.append(membership.member.display_name)
    if decided:
        template = _("Approved: %(names)s.") if approve else _("Denied: %(names)s.")
        messages.success(request, template % {"names": ", ".join(decided)})
    return redirect(_manage_url(community))


def members_add(request, slug):
    """Search people or paste a list, then add them or invite them."""
    community = access.community_for_steward(request.user, slug)
    search = SearchForm(request.GET)
    results = selectors.people_to_add(community, search.query)
    form = AddMembersForm(request.POST or None)
    summary = None
    if request.method == "POST" and form.is_valid():
        members, not_found = form.resolve()
        invite = form.cleaned_data["mode"] == "invite"
        big = len(members) > settings.KCDIR_BACKGROUND_ADD_PEOPLE
        try:
            if big:  # the worker does it; its page shows how far it is
                return redirect(
                    services.queue_add_members(
                        community=community,
                        members=members,
                        not_found=not_found,
                        actor=request.member,
                        invite=invite,
                        user=request.user,
                    )
                )
            result = services.add_members(
                community=community, members=members, actor=request.member, invite=invite
            )
        except services.ServiceError as error:
            messages.error(request, str(error))
        else:
            result.not_found = not_found
            summary = {"result": result, "invite": invite}
    return render(
        request,
        "communities/members_add.html",
        {
            "community": community,
            "search": search,
            "results": results,
            "form": form,
            "summary": summary,
        },
    )


@require_POST
def membership_role(request, slug, pk):
    """Change a role at once, unless it replaces someone (appointing a sponsor makes the
    current one a member): then a page says so first, and its Confirm applies both."""
    community, membership = access.membership_for_steward(request.user, slug, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role."))
        return redirect(_manage_url(community))
    role = form.cleaned_data["role"]
    # In a CoP a steward is called a coordinator.
    role_label = dict(_roles_for(community)).get(role, Membership.Role(role).label)
    try:
        change = services.plan_role_change(community=community, membership=membership, role=role)
    except services.ServiceError as error:
        messages.error(request, str(error))
        return redirect(_manage_url(community))
    replacing = change.replaces.pk if change.replaces else None
    if replacing is not None and form.cleaned_data["replacing"] != replacing:
        return render(
            request,
            "communities/membership_role_confirm.html",
            {"community": community, "change": change, "role_label": role_label},
        )
    done = _("%(name)s is now %(role)s.") % {
        "name": membership.member.display_name,
        "role": role_label,
    }
    if change.replaces is not None:
        done += " " + _("%(name)s, the previous sponsor, is now a member.") % {
            "name": change.replaces.member.display_name
        }
    _attempt(
        request,
        lambda: services.change_role(
            community=community,
            membership=membership,
            actor=request.member,
            role=role,
            replacing=replacing,
        ),
        done,
    )
    # A coordinator (or steward) who handed their role on no longer manages the list.
    if not access.may_curate(request.user, community):
        return redirect(community)
    return redirect(_manage_url(community))


def _confirm_with_note(request, slug, pk, *, template: str, change, done: str):
    """A steward's change to one membership, with an optional reason: GET asks for
    confirmation, POST makes ``change`` (a service taking the community, the membership,
    the actor and the reason) and says ``done`` (``%(name)s``: the person)."""
    community, membership = access.membership_for_steward(request.user, slug, pk)
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _attempt(
            request,
            lambda: change(
                community=community,
                membership=membership,
                actor=request.member,
                reason=form.cleaned_data["note"],
            ),
            done % {"name": membership.member.display_name},
        )
        return redirect(_manage_url(community))
    return render(
        request, template, {"community": community, "membership": membership, "form": form}
    )


def membership_remove(request, slug, pk):
    return _confirm_with_note(
        request,
        slug,
        pk,
        template="communities/membership_remove.html",
        change=services.remove_member,
        done=_("%(name)s is off the list."),
    )


@require_POST
def invitation_resend(request, slug, pk):
    community, membership = access.membership_for_steward(request.user, slug, pk)
    _attempt(
        request,
        lambda: services.resend_invitation(
            community=community, membership=membership, actor=request.member
        ),
        ngettext(
            "The invitation to %(name)s is sent again; it lapses in %(days)d day.",
            "The invitation to %(name)s is sent again; it lapses in %(days)d days.",
            settings.INVITATION_EXPIRY_DAYS,
        )
        % {"name": membership.member.display_name, "days": settings.INVITATION_EXPIRY_DAYS},
    )
    return redirect(_manage_url(community))


def invitation_withdraw(request, slug, pk):
    return _confirm_with_note(
        request,
        slug,
        pk,
        template="communities/invitation_withdraw.html",
        change=services.withdraw_invitation,
        done=_("The invitation to %(name)s is withdrawn."),
    )


def community_history(request, slug):
    community = access.community_for_steward(request.user, slug)
    form = HistoryFilterForm(request.GET)
    events = form.filtered(community.events.all())
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "communities/community_history.html",
        {"community": community, "form": form, "page_obj": page},
    )


def community_create(request):
    """Directory admins create a knowledge community with its sponsor and stewards."""
    access.require_directory_admin(request.user)
    form = CommunityCreateForm(request.POST or None)
    similar = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        similar, form = _similar_unless_confirmed(
            request,
            form,
            name=data["name"],
            summary=data["summary"],
            purposes=[purpose.statement for purpose in data["purposes"]],
        )
    if request.method == "POST" and form.is_valid() and not similar:
        data = form.cleaned_data
        community = services.create_community(
            actor=request.member,
            name=data["name"],
            summary=data["summary"],
            description=data["description"],
            join_policy=data["join_policy"],
            purposes=data["purposes"],
            sponsor=data["sponsor"],
            stewards=data["stewards"],
        )
        messages.success(
            request, _("%(community)s is in the directory.") % {"community": community}
        )
        return redirect(community)
    return render(request, "communities/community_create.html", {"form": form, "similar": similar})


def _similar_unless_confirmed(request, form, *, name, summary="", purposes=(), exclude_pk=None):
    """Before a new community is saved: the listed communities like it (by name, summary
    and purposes), unless the person saw them already. When there are some, the form
    comes back bound to what they sent and marked ``confirmed``, so pressing its button
    again goes ahead (as recording a CoP does). Returns (similar, form)."""
    if form.cleaned_data.get("confirmed"):
        return [], form
    similar = selectors.similar_communities(name, summary, purposes=purposes, exclude_pk=exclude_pk)
    if similar:
        data = request.POST.copy()
        data["confirmed"] = "True"
        form.data = data  # the same form, its kwargs kept, now marked confirmed
    return similar, form


def community_edit(request, slug):
    """GET shows the community's details in a form; POST saves what changed (one history
    event per field) and returns to the community's page."""
    community = access.community_for_editing(request.user, slug)
    form = CommunityEditForm(request.POST or None, community=community)
    if request.method == "POST" and form.is_valid():
        try:
            events = services.edit_community(
                community=community, actor=request.member, **form.changes()
            )
        except services.EditConflict as error:
            # Their changes stay in the form, now drawn from the community as it is.
            community.refresh_from_db()
            data = request.POST.copy()
            data["version"] = community.updated_at.isoformat()
            form = CommunityEditForm(data, community=community)
            form.is_valid()
            form.add_error(None, str(error))
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            if events:
                messages.success(
                    request, _("Your changes to %(name)s are saved.") % {"name": community.name}
                )
            else:
                messages.info(request, _("You changed nothing, so nothing was saved."))
            return redirect(community)
    return render(
        request,
        "communities/community_edit.html",
        {
            "community": community,
            "form": form,
            "purpose_menu": selectors.purpose_menu(),
            "term_form": DefaultTermForm(
                initial={"months": selectors.default_term_months(community)}
            ),
        },
    )


# -- bulk: import, export, dashboard -----------------------------------------------------


def roster_import(request, slug):
    """Upload a roster CSV; a preview follows, and nothing changes until Confirm."""
    community = access.community_for_steward(request.user, slug)
    form = RosterImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > roster_upload.MAX_UPLOAD_BYTES:
                raise roster_upload.RosterFileError(
                    _("The file is larger than 5 MB. Split it into smaller files.")
                )
            text = roster_upload.decode_upload(upload.read(), name=upload.name)
            pending = services.preview_roster_import(
                community=community,
                actor=request.member,
                file_name=upload.name,
                text=text,
                remove_absent=form.cleaned_data["remove_absent"],
                mode=form.cleaned_data["mode"],
            )
        except roster_upload.RosterFileError as error:
            form.add_error("file", str(error))
        else:
            return redirect("communities:roster_import_preview", slug=community.slug, pk=pending.pk)
    return render(request, "communities/roster_import.html", {"community": community, "form": form})


def roster_import_preview(request, slug, pk):
    """GET shows what the import will do (once applied: the rows it skipped); POST
    (Confirm) applies it, in the mode the page showed (``mode``)."""
    community, pending = access.roster_import_for_steward(request.user, slug, pk)
    if request.method == "POST" and pending.row_count > settings.KCDIR_BACKGROUND_IMPORT_ROWS:
        job = services.queue_roster_import(
            roster_import=pending,
            actor=request.member,
            mode=request.POST.get("mode"),
            user=request.user,
        )
        return redirect(job)
    if request.method == "POST":
        try:
            totals = services.apply_roster_import(
                roster_import=pending, actor=request.member, mode=request.POST.get("mode")
            )
        except services.ServiceError as error:
            messages.error(request, str(error))
            return redirect("communities:roster_import", slug=community.slug)
        result = describe_import(totals)
        if totals["skipped"]:
            messages.success(request, result)
            return redirect("communities:roster_import_preview", slug=community.slug, pk=pk)
        messages.success(request, result)
        return redirect("communities:community_manage", slug=community.slug)
    # The plan was worked out and stored at upload: read one page of it, nothing more.
    page = (
        None
        if pending.applied_at and not pending.listed_row_count
        else selectors.roster_import_page(pending, request.GET.get("page"))
    )
    return render(
        request,
        "communities/roster_import_preview.html",
        {
            "community": community,
            "pending": pending,
            "page_obj": page,
            "mode_form": RosterImportModeForm(initial={"mode": pending.mode}),
        },
    )


@require_POST
def roster_import_mode(request, slug, pk):
    """Choose again, before Confirm, what the rows with errors do; back to the preview."""
    community, pending = access.roster_import_for_steward(request.user, slug, pk)
    form = RosterImportModeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose what to do with the rows with errors."))
    else:
        try:
            services.choose_roster_import_mode(
                roster_import=pending, mode=form.cleaned_data["mode"]
            )
        except services.ServiceError as error:
            messages.error(request, str(error))
    return redirect("communities:roster_import_preview", slug=community.slug, pk=pending.pk)


def _csv_response(chunks, filename: str) -> StreamingHttpResponse:
    """A CSV download streamed from ``chunks`` (``exports.export_*``: UTF-8 bytes)."""
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def roster_export(request, slug):
    """The roster as CSV, streamed (``?all=1`` adds former and pending members)."""
    community = access.community_for_steward(request.user, slug)
    states = Membership.State.values if request.GET.get("all") else [Membership.State.ACTIVE]
    return _csv_response(
        exports.export_roster(community, states=states), f"{community.slug}-roster.csv"
    )


def directory_export(request):
    """Every listed community as CSV, streamed (one aggregated query on PostgreSQL)."""
    access.require_directory_admin(request.user)
    return _csv_response(exports.export_directory(), "kcdir-directory.csv")


def dashboard(request):
    access.require_directory_admin(request.user)
    return render(
        request,
        "communities/dashboard.html",
        {**dashboard_context(), "review_start_form": ReviewStartForm()},
    )


@require_POST
def memberships_export(request):
    """Every membership of every community, exported by the worker (a job's page)."""
    access.require_directory_admin(request.user)
    return redirect(services.queue_memberships_export(user=request.user))


@require_POST
def email_retry(request, pk):
    """Send a failed email again (the dashboard's Failed emails)."""
    access.require_directory_admin(request.user)
    if outbox.retry_failed(message_id=pk):
        messages.success(request, _("The email is queued to be sent again."))
    else:
        messages.info(request, _("That email is no longer failed: nothing to retry."))
    return redirect(reverse("communities:dashboard") + "#failed-emails-heading")


# -- Botkin's model: CoPs, proposals, formalising, the ladder ----------------------------


def cop_record(request):
    """Any signed-in person records a community of practice they see.

    The first POST shows similar communities; saving needs a second, confirmed POST
    when there are any, so duplicates are caught before they exist.
    """
    form = RecordCopForm(request.POST or None)
    similar = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        similar = selectors.similar_communities(data["name"], data["summary"])
        if not similar or data["confirmed"]:
            community = services.record_cop(
                actor=request.member,
                name=data["name"],
                summary=data["summary"],
                cadence=data["cadence"],
                practise_here=data["practise_here"],
                purpose=data["purpose"],
            )
            message = _("%(name)s is now in the directory.") % {"name": community.name}
            if data["practise_here"]:
                message += " " + _("You are its coordinator: you can edit it and hand that on.")
            messages.success(request, message)
            return redirect(community)
        form = RecordCopForm(initial={**data, "confirmed": True})
    return render(request, "communities/cop_record.html", {"form": form, "similar": similar})


def kc_propose(request):
    """Anyone proposes a knowledge community; similar communities are shown first, and
    saving needs a second, confirmed POST when there are any."""
    form = ProposeKcForm(request.POST or None)
    similar = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        similar, form = _similar_unless_confirmed(
            request, form, name=data["name"], summary=data["summary"], purposes=[data["purpose"]]
        )
    if request.method == "POST" and form.is_valid() and not similar:
        data = form.cleaned_data
        try:
            services.propose_kc(
                actor=request.member,
                name=data["name"],
                purpose_statement=data["purpose"],
                summary=data["summary"],
                why_now=data["why_now"],
                suggested_sponsor=data["suggested_sponsor"],
            )
        except services.ServiceError as error:
            form.add_error("purpose", str(error))
        else:
            messages.success(
                request, _("Thank you: directory admins will look at your proposal and tell you.")
            )
            return redirect("members:my_communities")
    return render(request, "communities/kc_propose.html", {"form": form, "similar": similar})


def proposal_decide(request, slug):
    community = access.proposal_for_deciding(request.user, slug)
    initial = {}
    if community.suggested_sponsor:
        initial["sponsor"] = community.suggested_sponsor.user.get_username()
    form = ProposalDecisionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["decision"] == "decline":
                services.decline_proposal(
                    community=community, actor=request.member, reason=data["reason"]
                )
                messages.success(request, _("Proposal declined; the proposer is told why."))
                return redirect("communities:dashboard")
            services.approve_proposal(
                community=community,
                actor=request.member,
                sponsor=data["sponsor"],
                stewards=data["stewards"],
                join_policy=data["join_policy"],
            )
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("%(name)s is active.") % {"name": community.name})
            return redirect(community)
    purposes = list(community.purposes.all())
    return render(
        request,
        "communities/proposal_decide.html",
        {
            "community": community,
            "form": form,
            "purposes": purposes,
            # The CoP it would formalise is named on the page already.
            "similar": [
                similar
                for similar in selectors.similar_communities(
                    community.name,
                    community.summary,
                    purposes=[purpose.statement for purpose in purposes],
                    exclude_pk=community.pk,
                )
                if similar.pk != community.formed_from_id
            ],
        },
    )


def community_formalise(request, slug):
    """Directory admins formalise a CoP into a KC; its coordinators propose it."""
    cop = access.cop_for_formalising(request.user, slug)
    is_admin = access.is_directory_admin(request.user)
    # Bound on every POST, an empty one too: the checks below read cleaned_data.
    form = FormaliseForm(
        request.POST if request.method == "POST" else None,
        purposes=access.purposes_to_offer(request.user),
    )
    similar = []
    if request.method == "POST":
        valid = form.is_valid()
        data = form.cleaned_data
        # A taken name is said whatever else the form lacks.
        name_problem = data.get("name") and services.name_taken(data["name"])
        if name_problem:
            form.add_error("name", name_problem)
        elif valid:
            similar, form = _similar_unless_confirmed(
                request,
                form,
                name=data["name"],
                summary=data["summary"],
                purposes=[p.statement for p in data["purposes"]] + [data["new_purpose"]],
                exclude_pk=cop.pk,
            )
    if request.method == "POST" and form.is_valid() and not similar:
        data = form.cleaned_data
        try:
            if is_admin:
                kc = services.formalise_cop(
                    cop=cop,
                    actor=request.member,
                    name=data["name"],
                    summary=data["summary"],
                    description=data["description"],
                    purposes=data["purposes"],
                    new_purpose=data["new_purpose"],
                    sponsor=data["sponsor"],
                    stewards=data["stewards"],
                    join_policy=data["join_policy"],
                    invite_participants=data["participants"] == "invite",
                    archive_cop=data["archive_cop"],
                )
            else:
                kc = services.propose_formalisation(
                    cop=cop,
                    actor=request.member,
                    name=data["name"],
                    summary=data["summary"],
                    description=data["description"],
                    purposes=data["purposes"],
                    new_purpose=data["new_purpose"],
                    suggested_sponsor=data["sponsor"],
                )
        except services.CommunityNameTaken as error:
            form.add_error("name", str(error))
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            if is_admin:
                messages.success(
                    request, _("%(kc)s is formed from %(cop)s.") % {"kc": kc.name, "cop": cop.name}
                )
                return redirect(kc)
            messages.success(request, _("Proposed: directory admins will decide."))
            return redirect(cop)
    return render(
        request,
        "communities/community_formalise.html",
        {"community": cop, "form": form, "is_admin": is_admin, "similar": similar},
    )


@require_POST
def stage_set(request, slug):
    community = access.community_for_steward(request.user, slug)
    form = StageForm(request.POST)
    if form.is_valid():
        _attempt(
            request,
            lambda: services.set_stage(
                community=community,
                actor=request.member,
                stage=form.cleaned_data["stage"],
                note=form.cleaned_data["note"],
            ),
            _("Stage updated."),
        )
    else:
        messages.error(request, _("Choose a stage."))
    return redirect(community)


def community_merge(request, slug):
    """Directory admins merge a duplicate: choose the community that stays (likely
    duplicates, or search by name), preview who moves and in which role (GET with
    ``target``), then confirm (POST) exactly the plan previewed."""
    source = access.community_for_merging(request.user, slug)
    targets = selectors.merge_targets(source)
    if request.method == "POST":
        return _merge_confirmed(request, source, MergeConfirmForm(request.POST, targets=targets))
    form = MergeChooseForm(request.GET, targets=targets)
    form.is_valid()  # shows its errors; the page uses the valid values
    target = form.cleaned_data.get("target")
    if target is not None:
        keep_roles = form.cleaned_data["keep_roles"]
        try:
            plan = services.plan_merge(source=source, target=target, keep_roles=keep_roles)
        except services.ServiceError as error:
            form.add_error("target", str(error))
        else:
            return _merge_preview(request, plan, targets)
    return render(
        request,
        "communities/community_merge.html",
        {
            "community": source,
            "form": form,
            **selectors.merge_candidates(source, form.cleaned_data.get("q", "")),
        },
    )


def _merge_preview(request, plan, targets):
    source, target = plan.source, plan.target
    return render(
        request,
        "communities/community_merge_preview.html",
        {
            "community": source,
            "plan": plan,
            "joining": _merge_rows(plan.joining, source, target),
            "already_there": _merge_rows(plan.already_there, source, target),
            "ending": [(member, Membership.State(state).label) for member, state in plan.ending],
            "confirm_form": MergeConfirmForm(
                initial={
                    "target": target.pk,
                    "keep_roles": plan.keep_roles,
                    "fingerprint": plan.fingerprint,
                },
                targets=targets,
            ),
            "other_choice_url": _merge_preview_url(source, target, not plan.keep_roles),
        },
    )


def _merge_preview_url(source, target, keep_roles: bool) -> str:
    query = {"target": target.pk, **({"keep_roles": "on"} if keep_roles else {})}
    return f"{reverse('communities:community_merge', args=[source.slug])}?{urlencode(query)}"


def _merge_rows(moves, source, target) -> list[dict]:
    """A merge preview's people, as its tables show them."""
    here, there = dict(_roles_for(source)), dict(_roles_for(target))
    rows = []
    for move in moves:
        if move.kind == services.MergeMove.JOINS:
            what = _("Joins as %(role)s") % {"role": there[move.role_after]}
        elif move.kind == services.MergeMove.PROMOTED:
            what = _("%(before)s there; becomes %(role)s") % {
                "before": there[move.role_there],
                "role": there[move.role_after],
            }
        else:
            what = _("%(role)s there already; stays %(role)s") % {"role": there[move.role_after]}
        rows.append(
            {
                "member": move.member,
                "role_here": here.get(move.role_here, move.role_here),
                "what": what,
                "capped": move.capped,
            }
        )
    return rows


def _merge_confirmed(request, source, form):
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("communities:community_merge", slug=source.slug)
    target, keep_roles = form.cleaned_data["target"], form.cleaned_data["keep_roles"]
    try:
        services.merge_communities(
            source=source,
            target=target,
            actor=request.member,
            keep_roles=keep_roles,
            fingerprint=form.cleaned_data["fingerprint"],
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
        return redirect(_merge_preview_url(source, target, keep_roles))
    messages.success(
        request,
        _("%(source)s is merged into %(target)s.") % {"source": source.name, "target": target.name},
    )
    return redirect(target)


LADDER_STEP_LIMIT = 60


def ladder(request):
    form = LadderFilterForm(request.GET)
    communities = form.filtered(Community.objects.live())
    steps = selectors.ladder_steps(communities, limit=LADDER_STEP_LIMIT)
    return render(request, "communities/ladder.html", {"form": form, "steps": steps})
