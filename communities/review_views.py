"""Pages for membership terms (end dates) and periodic reviews of a community's list."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from . import access, selectors, services
from .forms import (
    DefaultTermForm,
    MembershipTermForm,
    NoteForm,
    ReviewConfirmForm,
    ReviewScheduleForm,
    ReviewStartForm,
)


def _manage_url(community):
    return reverse("communities:community_manage", args=[community.slug])


@require_POST
def membership_term(request, slug, pk):
    """A steward sets (or clears) a member's end date from the manage page's row."""
    community, membership = access.membership_for_steward(request.user, slug, pk)
    form = MembershipTermForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("ends_on", [_("Enter a valid date.")]):
            messages.error(request, error)
        return redirect(_manage_url(community) + f"#membership-{membership.pk}")
    ends_on = form.cleaned_data["ends_on"]
    try:
        services.set_membership_term(
            community=community, membership=membership, ends_on=ends_on, actor=request.member
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        name = membership.member.display_name
        if ends_on is None:
            messages.success(request, _("%(name)s's membership has no end date.") % {"name": name})
        else:
            messages.success(
                request,
                _("%(name)s is a member until %(date)s.")
                % {"name": name, "date": date_format(ends_on)},
            )
    return redirect(_manage_url(community) + f"#membership-{membership.pk}")


@require_POST
def community_term(request, slug):
    """The community's default membership term, from the Edit community page."""
    community = access.community_for_editing(request.user, slug)
    form = DefaultTermForm(request.POST)
    edit_url = reverse("communities:community_edit", args=[community.slug])
    if not form.is_valid():
        for error in form.errors.get("months", []):
            messages.error(request, error)
        return redirect(edit_url)
    months = form.cleaned_data["months"]
    services.set_default_term(community=community, months=months)
    if months:
        messages.success(
            request,
            _("New members of %(name)s get an end date %(months)s months ahead.")
            % {"name": community.name, "months": months},
        )
    else:
        messages.success(
            request, _("New members of %(name)s have no end date.") % {"name": community.name}
        )
    return redirect(edit_url)


# -- reviews -----------------------------------------------------------------------------


def _review_url(community):
    return reverse("communities:review_detail", args=[community.slug])


def review_detail(request, slug):
    """The community's review: for an open one, the people still to confirm or remove
    (a page at a time) and Confirm all remaining; its completed reviews; and, for
    directory admins, starting one and the yearly schedule."""
    community = access.community_for_steward(request.user, slug)
    review = selectors.open_review(community)
    may_start = access.may_start_reviews(request.user)
    return render(
        request,
        "communities/review_detail.html",
        {
            "community": community,
            "review": review,
            "pending_page": selectors.review_pending_page(review, request.GET.get("page"))
            if review
            else None,
            "decided_count": review.items.count() if review else 0,
            "past_reviews": selectors.past_reviews(community),
            "may_start": may_start,
            "start_form": ReviewStartForm() if may_start and not review else None,
            "schedule_form": ReviewScheduleForm(
                initial={"every_months": selectors.review_every_months(community)}
            )
            if may_start
            else None,
        },
    )


@require_POST
def review_confirm(request, slug):
    """Confirm one person (``one``: their membership) or everyone still undecided
    (``all``) in the open review."""
    community, review = access.open_review_for_steward(request.user, slug)
    form = ReviewConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whom to confirm."))
        return redirect(_review_url(community))
    one = form.cleaned_data["one"]
    try:
        step = services.confirm_members(
            review=review, membership_ids=None if one is None else [one], actor=request.member
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
        return redirect(_review_url(community))
    if step.completed:
        messages.success(request, _("The review is complete. Thank you."))
    else:
        messages.success(
            request,
            ngettext("%(count)s person confirmed.", "%(count)s people confirmed.", step.decided)
            % {"count": step.decided},
        )
    page = form.cleaned_data["page"]
    return redirect(_review_url(community) + (f"?page={page}" if page else ""))


def review_remove(request, slug, pk):
    """GET asks to confirm; POST takes the person off the list as the review's outcome."""
    community, review = access.open_review_for_steward(request.user, slug)
    _community, membership = access.membership_for_steward(request.user, slug, pk)
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            step = services.remove_in_review(
                review=review,
                membership=membership,
                actor=request.member,
                reason=form.cleaned_data["note"],
            )
        except services.ServiceError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, _("%(name)s is off the list.") % {"name": membership.member.display_name}
            )
            if step.completed:
                messages.success(request, _("The review is complete. Thank you."))
        return redirect(_review_url(community))
    return render(
        request,
        "communities/review_remove.html",
        {"community": community, "membership": membership, "form": form},
    )


def review_outcome(request, slug, pk):
    """A review's outcome: who confirmed or removed whom, and when."""
    community, review = access.review_for_steward(request.user, slug, pk)
    return render(
        request,
        "communities/review_outcome.html",
        {
            "community": community,
            "review": review,
            "items_page": selectors.review_items_page(review, request.GET.get("page")),
        },
    )


@require_POST
def review_start(request, slug):
    """A directory admin starts a review of one community's list."""
    community = access.community_for_review_admin(request.user, slug)
    form = ReviewStartForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("due_on", []):
            messages.error(request, error)
        return redirect(_review_url(community))
    try:
        services.start_review(
            community=community, due_on=form.cleaned_data["due_on"], actor=request.member
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Review started; the stewards were told."))
    return redirect(_review_url(community))


@require_POST
def review_schedule(request, slug):
    """A directory admin sets how often a community's list is reviewed."""
    community = access.community_for_review_admin(request.user, slug)
    form = ReviewScheduleForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("every_months", []):
            messages.error(request, error)
        return redirect(_review_url(community))
    schedule = services.set_review_schedule(
        community=community, every_months=form.cleaned_data["every_months"]
    )
    if schedule is None:
        messages.success(request, _("No reviews are scheduled."))
    else:
        messages.success(
            request,
            _("The next review starts on %(date)s.") % {"date": date_format(schedule.next_on)},
        )
    return redirect(_review_url(community))


@require_POST
def reviews_start_all(request):
    """A directory admin starts a review of every active knowledge community."""
    access.require_directory_admin(request.user)
    form = ReviewStartForm(request.POST)
    dashboard_url = reverse("communities:dashboard")
    if not form.is_valid():
        for error in form.errors.get("due_on", []):
            messages.error(request, error)
        return redirect(dashboard_url)
    started = services.start_reviews_of_every_kc(
        due_on=form.cleaned_data["due_on"], actor=request.member
    )
    messages.success(
        request,
        ngettext("%(count)s review started.", "%(count)s reviews started.", started)
        % {"count": started},
    )
    return redirect(dashboard_url)
