from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from . import access
from .forms import DirectoryFilterForm, SearchForm
from .models import Community, Purpose


def community_list(request):
    form = DirectoryFilterForm(request.GET)
    communities = form.filtered(Community.objects.for_directory())
    page = Paginator(communities, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "communities/community_list.html",
        {"form": form, "page_obj": page, "filtering": form.active_filters},
    )


def community_detail(request, slug):
    community = access.community_for_viewer(request.user, slug)
    community = (
        Community.objects.with_counts()
        .with_leaders()
        .select_related("formed_from")
        .get(pk=community.pk)
    )
    roster_form = SearchForm(request.GET)
    roster = community.memberships.roster().search(roster_form.query)
    roster_page = Paginator(roster, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "communities/community_detail.html",
        {
            "community": community,
            "roster_form": roster_form,
            "roster_page": roster_page,
            "viewer_membership": community.memberships.filter(member=request.member).first(),
            "formalised_as": community.formalised_as.listed(),
        },
    )


def purpose_list(request):
    form = SearchForm(request.GET)
    purposes = Purpose.objects.with_community_counts().search(form.query)
    page = Paginator(purposes, 50).get_page(request.GET.get("page"))
    return render(request, "communities/purpose_list.html", {"form": form, "page_obj": page})


def purpose_detail(request, slug):
    purpose = get_object_or_404(Purpose, slug=slug)
    communities = purpose.communities.for_directory().order_by("kind", "name")
    page = Paginator(communities, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "communities/purpose_detail.html", {"purpose": purpose, "page_obj": page}
    )
