from django import forms
from django.utils.translation import gettext_lazy as _

from communities.forms import SearchField

from .models import Department, Member


class PeopleFilterForm(forms.Form):
    q = SearchField(help_text=_("Name, job title, department or expertise"))
    department = forms.ModelChoiceField(
        label=_("Department"),
        required=False,
        queryset=Department.objects.all(),
        to_field_name="slug",
        empty_label=_("Any department"),
    )

    def filtered(self, queryset):
        self.is_valid()
        queryset = queryset.search(self.cleaned_data.get("q", ""))
        if self.cleaned_data.get("department"):
            queryset = queryset.filter(department=self.cleaned_data["department"])
        return queryset


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ["display_name", "job_title", "department", "location", "expertise", "bio"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}
