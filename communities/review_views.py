"""Pages for membership terms (end dates) and periodic reviews of a community's list."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import access, services
from .forms import DefaultTermForm, MembershipTermForm


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
