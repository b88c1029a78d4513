"""The people pages: the people directory, a person's profile and roster history, and
one's own communities. They show communities, so they live here rather than in
``members`` (which knows nothing of communities); a profile's editing stays there."""

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.shortcuts import render

from members.forms import PeopleFilterForm
from members.models import Department, Member

from . import access, directory_cache, insights
from .forms import HistoryFilterForm
from .models import Community, Membership
from .paging import CappedPaginator

CONNECTED_CACHE_SECONDS = 300
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


def department_list(request) -> list[tuple[int, str, str]]:
    """Every department as (pk, slug, name), by name: the same for everyone, so kept
    under the directory version (which changes with any department)."""
    return directory_cache.cached(
        request,
        "departments",
        (),
        lambda: list(Department.objects.order_by("name", "pk").values_list("pk", "slug", "name")),
    )


def member_list(request):
    form = PeopleFilterForm(request.GET, departments=department_list(request))
    people = (
        form.filtered(Member.objects.active())
        .select_related("user", "department")
        .only(
            "display_name",
            "job_title",
            "expertise",
            "user__username",
            "department__name",
        )
        .order_by("display_name", "pk")
    )
    paginator = CappedPaginator(people, settings.PAGE_SIZE, cap=PEOPLE_COUNT_CAP)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "members/member_list.html",
        {"form": form, "page_obj": page, "count_cap": PEOPLE_COUNT_CAP},
    )


def member_detail(request, username):
    viewer_pk = request.member.pk  # creates the viewer's Member first: their own profile exists
    member = access.member_for_viewer(request.user, username)
    memberships = (
        member.memberships.active()
        .exclude(community__status="proposed")
        .select_related("community")
        .order_by("community__name")
    )
    return render(
        request,
        "members/member_detail.html",
        {
            "member": member,
            "memberships": memberships,
            "is_self": member.pk == viewer_pk,
            # Costly for people in many communities; a few minutes' staleness is fine.
            "connected": cache.get_or_set(
                f"kcdir:connected:{member.pk}",
                lambda: insights.connected_communities(member),
                CONNECTED_CACHE_SECONDS,
            ),
            "can_see_history": access.may_see_history(request.user, member),
        },
    )


def my_communities(request):
    memberships = (
        request.member.memberships.filter(
            state__in=[
                Membership.State.ACTIVE,
                Membership.State.REQUESTED,
                Membership.State.INVITED,
            ]
        )
        .select_related("community")
        .order_by("community__name")
    )
    grouped = {state: [] for state in Membership.State.values}
    for membership in memberships:
        grouped[membership.state].append(membership)
    return render(
        request,
        "members/my_communities.html",
        {
            "waiting_for_me": access.requests_decidable_by(request.user).select_related(
                "community", "member"
            )[:50],
            "proposals": Community.objects.filter(proposed_by=request.member).order_by(
                "-created_at"
            )[:20],
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
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "members/member_history.html",
        {"member": member, "form": form, "page_obj": page},
    )
