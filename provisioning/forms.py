from django import forms
from django.utils.translation import gettext_lazy as _

from communities.models import Community


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Identity provider"),
        max_length=100,
        help_text=_("Shown in history as who made each change, e.g. “Entra ID” or “Okta”."),
    )


class GroupLinkForm(forms.Form):
    community = forms.ModelChoiceField(
        label=_("Knowledge community"),
        queryset=Community.objects.filter(kind=Community.Kind.KC)
        .exclude(status=Community.Status.ARCHIVED)
        .order_by("name"),
        required=False,
        empty_label=_("None: the group is a department"),
    )
