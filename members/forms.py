from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Member


def clean_search_text(value: str) -> str:
    """Search text safe for every database: trimmed, bounded, no NUL bytes."""
    return (value or "").replace("\x00", "").strip()[:200]


class SearchField(forms.CharField):
    """The search box of every list: optional, labelled "Search", trimmed and bounded."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Search"))
        super().__init__(strip=False, **kwargs)

    def to_python(self, value):
        return clean_search_text(super().to_python(value))


class PeopleFilterForm(forms.Form):
    """The people directory's search and department filter.

    ``departments`` is every department as (pk, slug, name), by name: the menu's
    options, and what a search matches department names against, with no query of
    the form's own.
    """

    q = SearchField(help_text=_("Name, job title, department or expertise"))
    department = forms.ChoiceField(label=_("Department"), required=False)

    def __init__(self, *args, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.departments = departments
        self.fields["department"].choices = [
            ("", _("Any department")),
            *((slug, name) for _pk, slug, name in departments),
        ]

    def filtered(self, queryset):
        self.is_valid()
        queryset = queryset.search(self.cleaned_data.get("q", ""), departments=self.departments)
        slug = self.cleaned_data.get("department")
        if slug:
            pk = next(
                pk for pk, department_slug, _name in self.departments if department_slug == slug
            )
            queryset = queryset.filter(department_id=pk)
        return queryset

    @property
    def narrowed(self) -> bool:
        """Whether a search or a department narrows the list."""
        self.is_valid()
        return bool(self.cleaned_data.get("q") or self.cleaned_data.get("department"))


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ["display_name", "job_title", "department", "location", "expertise", "bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}
