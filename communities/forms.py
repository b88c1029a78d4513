from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import Department

from .models import Community, Purpose


def clean_search_text(value: str) -> str:
    """Search text safe for every database: trimmed, bounded, no NUL bytes."""
    return (value or "").replace("\x00", "").strip()[:200]


class SearchField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Search"))
        super().__init__(strip=False, **kwargs)

    def to_python(self, value):
        return clean_search_text(super().to_python(value))


class DirectoryFilterForm(forms.Form):
    """The directory's query string: search, filters and sort. Anything
    invalid is dropped rather than rejected, so a hand-edited URL still works."""

    SORT_CHOICES = [
        ("name", _("Name")),
        ("newest", _("Newest")),
        ("members", _("Most members")),
    ]

    q = SearchField()
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("Any kind")), *Community.Kind.choices]
    )
    stage = forms.ChoiceField(
        label=_("Stage"), required=False, choices=[("", _("Any stage")), *Community.Stage.choices]
    )
    purpose = forms.ModelChoiceField(
        label=_("Purpose"),
        required=False,
        queryset=Purpose.objects.all(),
        to_field_name="slug",
        empty_label=_("Any purpose"),
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        required=False,
        queryset=Department.objects.all(),
        to_field_name="slug",
        empty_label=_("Any department"),
    )
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=SORT_CHOICES)

    def filtered(self, queryset):
        """Apply the valid parts of the query string to ``queryset``."""
        self.is_valid()
        data = {name: value for name, value in self.cleaned_data.items() if value}
        queryset = queryset.search(data.get("q", ""))
        if "kind" in data:
            queryset = queryset.filter(kind=data["kind"])
        if "stage" in data:
            queryset = queryset.filter(stage=data["stage"])
        if "purpose" in data:
            queryset = queryset.pursuing(data["purpose"])
        if "department" in data:
            queryset = queryset.in_department(data["department"])
        return queryset.sorted_by(data.get("sort", "name"))

    @property
    def active_filters(self) -> bool:
        self.is_valid()
        return any(
            self.cleaned_data.get(name) for name in ("q", "kind", "stage", "purpose", "department")
        )


class SearchForm(forms.Form):
    """A lone search box (``?q=``) for rosters and short lists."""

    q = SearchField()

    @property
    def query(self) -> str:
        return self.cleaned_data.get("q", "") if self.is_valid() else ""
