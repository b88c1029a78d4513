"""Pages that show where knowledge lives and flows: the knowledge map, connectors,
the expertise finder and the insights charts. Read-only (GET); the numbers come
from ``insights``, the drawings from ``svg``."""

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from members.models import Department

from . import access, insights, svg
from .csv_io.cells import csv_rows
from .forms import SearchField
from .models import Community


class DepartmentFilterForm(forms.Form):
    """Filters from the query string; anything invalid is dropped, not rejected."""

    department = forms.ModelChoiceField(
        label=_("Department"),
        required=False,
        queryset=Department.objects.all(),
        to_field_name="slug",
        empty_label=_("Any department"),
    )

    def value(self, name):
        self.is_valid()
        return self.cleaned_data.get(name) or None


class MapFilterForm(DepartmentFilterForm):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any kind")), *Community.Kind.choices]
    )
    # Any slug is accepted here and resolved by access.community_for_map; the menu
    # offers the communities on the map being shown.
    community = forms.SlugField(
        label=_("Focus on a community"),
        required=False,
        widget=forms.Select,
    )
    field_order = ["community", "kind", "department"]

    def offer(self, communities, focus=None) -> None:
        """Fill the community menu: the whole map, then ``communities`` by name."""
        shown = {c.pk: c for c in communities}
        if focus is not None:
            shown.setdefault(focus.pk, focus)
        choices = sorted(((c.slug, c.name) for c in shown.values()), key=lambda item: item[1])
        self.fields["community"].widget.choices = [("", _("The whole map")), *choices]


class ExpertiseSearchForm(DepartmentFilterForm):
    q = SearchField(label=_("Expertise"), help_text=_("A topic, such as “fraud” or “python”."))
    field_order = ["q", "department"]


@require_GET
def knowledge_map(request):
    form = MapFilterForm(request.GET)
    kind, department = form.value("kind") or "", form.value("department")
    wanted = request.GET.get("community", "").strip()
    focus = access.community_for_map(request.user, wanted) if form.value("community") else None
    if focus is None:
        graph = insights.knowledge_map(
            kind=kind, department=department, limit=insights.MAP_LINK_LIMIT
        )
    else:
        graph = insights.focus_map(focus, kind=kind, department=department)
    form.offer(graph.nodes, focus)
    filters = {"kind": kind, "department": department.slug if department else ""}
    return render(
        request,
        "communities/insights/knowledge_map.html",
        {
            "form": form,
            "filtering": bool(kind or department or focus),
            "department": department,
            "unknown_department": request.GET.get("department", "").strip()
            if department is None
            else "",
            "focus": focus,
            "unknown_focus": wanted if wanted and focus is None else "",
            "focus_query": urlencode({k: v for k, v in filters.items() if v}),
            "graph": graph,
            "drawing": svg.knowledge_map(graph.nodes, graph.links, focus=focus),
            "strongest": graph.links[: insights.TABLE_LINK_LIMIT],
            "link_limit": insights.MAP_LINK_LIMIT,
            "neighbour_limit": insights.FOCUS_NEIGHBOUR_LIMIT,
        },
    )


@require_GET
def connectors(request):
    form = DepartmentFilterForm(request.GET)
    department = form.value("department")
    return render(
        request,
        "communities/insights/connectors.html",
        {
            "form": form,
            "department": department,
            "people": insights.connectors(department=department),
            "limit": insights.CONNECTOR_LIMIT,
        },
    )


@require_GET
def expertise(request):
    form = ExpertiseSearchForm(request.GET)
    query, department = form.value("q") or "", form.value("department")
    page = None
    if query:
        people = insights.people_with_expertise(query, department=department)
        page = Paginator(people, settings.PAGE_SIZE).get_page(request.GET.get("page"))
        for person in page:
            person.topics = insights.expertise_topics(person, query)
    return render(
        request,
        "communities/insights/expertise.html",
        {"form": form, "query": query, "page_obj": page},
    )


@require_GET
def insights_overview(request):
    charts = [build() for build in insights.CHARTS.values()]
    return render(
        request,
        "communities/insights/insights.html",
        {
            "charts": [(chart, svg.draw_chart(chart)) for chart in charts],
            "recent_formalisations": insights.recent_formalisations(),
        },
    )


@require_GET
def insights_csv(request, chart):
    """One chart's table as CSV, cells made safe for spreadsheets."""
    build = insights.CHARTS.get(chart)
    if build is None:
        raise Http404
    data = build()
    response = StreamingHttpResponse(
        csv_rows(data.header, data.rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="kcdir-{data.slug}.csv"'
    return response
