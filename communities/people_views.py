"""The people pages: the people directory, a person's profile and roster history, and
one's own communities. They show communities, so they live here rather than in
``members`` (which knows nothing of communities); a profile's editing stays there."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from members.forms import PeopleFilterForm, ProfileForm
from members.models import Member

from . import access, insights, selectors, services
from .forms import HistoryFilterForm
from .models import Membership

# The people directory counts at most this many matches: beyond it the page says
# "more than 10,000" (a search or a department narrows the list).
PEOPLE_COUNT_CAP = 10_000
# What a history row shows, and nothing else (a community's description can be long).
HISTORY_FIELDS = (
    "created_at",
    "community",
    "community__name",
    "community__slug",
    "target",
    "target_name",
    "action",
    "actor_name",
    "state_before",
    "state_after",
    "role_before",
    "role_after",
    "note",
)


def member_list(request):
    form = PeopleFilterForm(request.GET, departments=selectors.departments())
    page = selectors.people_page(
        form.filtered(Member.objects.active()), request.GET.get("page"), cap=PEOPLE_COUNT_CAP
    )
    return render(
        request,
        "members/member_list.html",
        {"form": form, "page_obj": page, "count_cap": PEOPLE_COUNT_CAP},
    )


def member_detail(request, username):
    viewer_pk = request.member.pk  # creates the viewer's Member first: their own profile exists
    member = access.member_for_viewer(request.user, username)
    memberships = selectors.profile_memberships(member)
    return render(
        request,
        "members/member_detail.html",
        {
            "member": member,
            "memberships": memberships,
            "is_self": member.pk == viewer_pk,
            "connected": selectors.connected_communities(member),
            "can_see_history": access.may_see_history(request.user, member),
        },
    )


def my_communities(request):
    grouped = selectors.memberships_by_state(request.member)
    return render(
        request,
        "members/my_communities.html",
        {
            "waiting_for_me": selectors.requests_waiting_for(request.user),
            "proposals": selectors.proposals_by(request.member),
            "suggestions": insights.suggest_communities(request.member),
            "active": grouped[Membership.State.ACTIVE],
            "requested": grouped[Membership.State.REQUESTED],
            "invited": grouped[Membership.State.INVITED],
        },
    )


def member_history(request, username):
    member = access.member_history_for_viewer(request.user, username)
    form = HistoryFilterForm(request.GET)
    events = form.filtered(
        member.membership_events.select_related("community").only(*HISTORY_FIELDS)
    )
    page = selectors.history_page(events, request.GET.get("page"))
    return render(
        request,
        "members/member_history.html",
        {"member": member, "form": form, "page_obj": page},
    )


def profile_edit(request):
    """One's own profile. Saved through ``services.save_profile``, which applies the
    membership rules to the person (a new department may put them on a list)."""
    form = ProfileForm(request.POST or None, instance=request.member)
    if request.method == "POST" and form.is_valid():
        services.save_profile(member=form.save(commit=False))
        messages.success(request, _("Your profile is saved."))
        return redirect(request.member)
    return render(request, "members/profile_edit.html", {"form": form})
