import re

from django import forms
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from members.forms import SearchField
from members.models import Department, Member

from . import selectors
from .models import Community, Membership, MembershipEvent, Purpose


class PurposeMenuMixin:
    """Show the ``purpose`` field as a short menu (plus whatever is selected)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        menu = selectors.purpose_menu()
        selected = self.data.get("purpose") if self.is_bound else None
        if selected and re.fullmatch(r"[-\w]+", selected) and selected not in dict(menu):
            statement = (
                Purpose.objects.filter(slug=selected).values_list("statement", flat=True).first()
            )
            if statement:
                menu = [(selected, statement), *menu]
        self.fields["purpose"].choices = [("", _("Any purpose")), *menu]


class DirectoryFilterForm(PurposeMenuMixin, forms.Form):
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

    def menus(self) -> list[dict]:
        """The select filters as plain data, for a template loop: the directory draws
        them itself because widget templates cost more than the rest of the page."""
        self.is_valid()
        menus = []
        for name in ("kind", "stage", "purpose", "department", "sort"):
            field = self.fields[name]
            value = self.data.get(name, "") if self.is_bound else ""
            options = [(str(key), label, str(key) == value) for key, label in field.choices]
            menus.append({"name": name, "label": field.label, "options": options})
        return menus

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


class NoteForm(forms.Form):
    """An optional short note: a join request's message, a denial's or removal's reason."""

    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RosterFilterForm(forms.Form):
    q = SearchField()
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=[("", _("Any role")), *Membership.Role.choices]
    )
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("On the list")), *Membership.State.choices],
    )

    def filtered(self, queryset):
        self.is_valid()
        data = self.cleaned_data
        queryset = queryset.search(data.get("q", ""))
        if data.get("role"):
            queryset = queryset.filter(role=data["role"])
        if data.get("state"):
            queryset = queryset.filter(state=data["state"])
        else:
            queryset = queryset.filter(state__in=Membership.ON_THE_LIST)
        return queryset


class RowIdsField(forms.ModelMultipleChoiceField):
    """Rows chosen by id, where an id that no row could have (not a whole number, or
    out of the id column's range) is an invalid choice like any other unknown id,
    rather than reaching the database (SQLite cannot even compare it)."""

    MAX_ID = 2**63 - 1  # BigAutoField

    def _check_values(self, value):
        for pk in value:
            try:
                number = int(str(pk))
            except ValueError:
                continue  # not a number at all: the parent says so
            if not 0 < number <= self.MAX_ID:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": str(pk)},
                )
        return super()._check_values(value)


class DecisionForm(forms.Form):
    """Approve or deny one or several waiting requests."""

    DECISIONS = [("approve", _("Approve")), ("deny", _("Deny"))]

    decision = forms.ChoiceField(choices=DECISIONS)
    memberships = RowIdsField(queryset=Membership.objects.none())
    reason = forms.CharField(
        label=_("Reason (shown to the requester)"), required=False, max_length=1000
    )

    def __init__(self, *args, community, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this community's waiting requests can be chosen: ids of other
        # communities' memberships are invalid choices, never acted upon.
        self.fields["memberships"].queryset = community.memberships.filter(
            state=Membership.State.REQUESTED
        ).select_related("member__user")
        self.fields["memberships"].error_messages["invalid_choice"] = _(
            "One of those requests was already decided or withdrawn. Reload the page."
        )
        self.fields["memberships"].error_messages["required"] = _("Choose at least one request.")


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class AddMembersForm(forms.Form):
    """People to add or invite: chosen from a search, or pasted as emails/usernames."""

    people = RowIdsField(label=_("People"), queryset=Member.objects.active(), required=False)
    pasted = forms.CharField(
        label=_("Or paste emails or usernames"),
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One a line, or separated by commas, spaces or semicolons."),
    )
    mode = forms.ChoiceField(choices=[("add", _("Add members")), ("invite", _("Invite"))])

    MAX_ENTRIES = 5000

    def clean(self):
        cleaned = super().clean()
        entries = [
            entry for entry in re.split(r"[\s,;]+", cleaned.get("pasted", "")) if entry.strip()
        ]
        if len(entries) > self.MAX_ENTRIES:
            raise forms.ValidationError(
                _("Paste at most %(max)s people at a time (or use Import CSV).")
                % {"max": self.MAX_ENTRIES}
            )
        if not entries and not cleaned.get("people") and not self.errors:
            raise forms.ValidationError(_("Choose people from the search or paste a list."))
        cleaned["entries"] = list(dict.fromkeys(entries))
        return cleaned

    def resolve(self) -> tuple[list[Member], list[str]]:
        """The members meant, in order and without repeats, and the entries matching no one."""
        pasted, not_found = _find_people(" ".join(self.cleaned_data["entries"]))
        members = list(self.cleaned_data.get("people") or []) + pasted
        return list(dict.fromkeys(members)), not_found


class HistoryFilterForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("Every action")), *MembershipEvent.Action.choices],
    )

    def filtered(self, queryset):
        self.is_valid()
        if self.cleaned_data.get("action"):
            queryset = queryset.filter(action=self.cleaned_data["action"])
        return queryset


def _find_people(text: str) -> tuple[list[Member], list[str]]:
    """Members named by a list of emails or usernames, and the entries matching no one."""
    entries = list(dict.fromkeys(e for e in re.split(r"[\s,;]+", text or "") if e))
    by_key = selectors.people_by_key([entry.lower() for entry in entries])
    members, not_found = [], []
    for entry in entries:
        member = by_key.get(entry.lower())
        if member is not None:
            members.append(member)
        else:  # no one, or an email several people share
            not_found.append(entry)
    return list(dict.fromkeys(members)), not_found


class PeopleField(forms.CharField):
    """Emails or usernames, resolved to members; every entry must match someone."""

    def __init__(self, *, single: bool = False, **kwargs):
        self.single = single
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None if self.single else []
        members, not_found = _find_people(value)
        if not_found:
            raise forms.ValidationError(
                _("No one matches: %(entries)s.") % {"entries": ", ".join(not_found)}
            )
        if self.single:
            if len(members) != 1:
                raise forms.ValidationError(_("Name exactly one person."))
            return members[0]
        return members


class CommunityCreateForm(forms.ModelForm):
    """A new knowledge community, active at once: so it needs a sponsor, a steward and a
    future-shaping purpose (the form says which is missing)."""

    sponsor = PeopleField(
        label=_("Sponsor"), single=True, help_text=_("Username or email of the sponsoring leader.")
    )
    stewards = PeopleField(
        label=_("Stewards"), help_text=_("Usernames or emails, separated by commas or spaces.")
    )
    # Set once the similar communities were shown: the next Save goes ahead.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Community
        fields = ["name", "summary", "description", "join_policy", "purposes"]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purposes"].required = True
        self.fields["purposes"].help_text = _(
            "At least one must be oriented to shaping the future."
        )

    def clean_purposes(self):
        purposes = self.cleaned_data["purposes"]
        if not any(p.orientation == Purpose.Orientation.SHAPE_FUTURE for p in purposes):
            raise forms.ValidationError(
                _("A knowledge community needs at least one purpose that shapes the future.")
            )
        return purposes

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Community.objects.filter(slug=slugify(name)).exists():
            raise forms.ValidationError(_("A community with this name already exists."))
        return name

    def clean(self):
        cleaned = super().clean()
        sponsor, stewards = cleaned.get("sponsor"), cleaned.get("stewards") or []
        if sponsor and sponsor in stewards:
            self.add_error("stewards", _("The sponsor cannot also be a steward."))
        return cleaned


class RosterImportForm(forms.Form):
    file = forms.FileField(
        label=_("Roster file (CSV)"),
        help_text=_(
            "Columns: email or username, role (member, steward, sponsor), and optionally note. "
            "UTF-8, at most 5 MB."
        ),
    )
    remove_absent = forms.BooleanField(
        label=_("Remove active members who are not in the file"), required=False
    )


class RecordCopForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    summary = forms.CharField(
        label=_("What is practised"),
        max_length=300,
        help_text=_("One sentence: what these people do together."),
    )
    cadence = forms.CharField(label=_("Where and how people meet"), max_length=150, required=False)
    practise_here = forms.BooleanField(label=_("I practise here"), required=False, initial=True)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ProposeKcForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=200,
        help_text=_(
            "The future this community would shape, e.g. “Cut claim turnaround to two days”."
        ),
    )
    summary = forms.CharField(
        label=_("Summary"),
        max_length=300,
        required=False,
        help_text=_("One sentence on what it would do: shown in the directory once approved."),
    )
    why_now = forms.CharField(
        label=_("Why now"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For the directory admins who decide; not shown in the directory."),
    )
    suggested_sponsor = PeopleField(
        label=_("Suggested sponsor"),
        single=True,
        required=False,
        help_text=_("Username or email of a leader who could sponsor it (optional)."),
    )
    # Set once the similar communities were shown: the next Save goes ahead.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class LeadersForm(forms.Form):
    """Sponsor, stewards and join policy: what a KC needs to become active."""

    sponsor = PeopleField(label=_("Sponsor"), single=True, help_text=_("Username or email."))
    stewards = PeopleField(
        label=_("Stewards"), help_text=_("Usernames or emails, separated by commas or spaces.")
    )
    join_policy = forms.ChoiceField(
        label=_("How people join"),
        choices=Community.JoinPolicy.choices,
        initial=Community.JoinPolicy.REQUEST,
    )

    def clean(self):
        cleaned = super().clean()
        sponsor, stewards = cleaned.get("sponsor"), cleaned.get("stewards") or []
        if sponsor and sponsor in stewards:
            self.add_error("stewards", _("The sponsor cannot also be a steward."))
        return cleaned


class ProposalDecisionForm(LeadersForm):
    DECISIONS = [("approve", _("Approve")), ("decline", _("Decline"))]

    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.HiddenInput, initial="approve")
    reason = forms.CharField(
        label=_("Reason (if declining; shown to the proposer)"), required=False, max_length=1000
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data.get("decision") == "decline":
            for name in ("sponsor", "stewards", "join_policy"):
                self.fields[name].required = False


class FormaliseForm(LeadersForm):
    name = forms.CharField(
        label=_("Name of the knowledge community"),
        max_length=150,
        help_text=_(
            "A name of its own: not the community of practice's, nor any other "
            "community's in the directory."
        ),
    )
    summary = forms.CharField(
        label=_("Summary"),
        max_length=300,
        required=False,
        help_text=_(
            "One sentence on the future this knowledge community shapes: shown on its page "
            "and card. The community of practice's text is not copied."
        ),
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    purposes = RowIdsField(
        label=_("Purposes that shape the future"),
        queryset=Purpose.objects.filter(orientation=Purpose.Orientation.SHAPE_FUTURE),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    new_purpose = forms.CharField(
        label=_("Or a new future-shaping purpose"), max_length=200, required=False
    )
    participants = forms.ChoiceField(
        label=_("The CoP's participants"),
        choices=[
            ("invite", _("are invited (they accept or decline)")),
            ("add", _("become members")),
        ],
        initial="invite",
        widget=forms.RadioSelect,
    )
    archive_cop = forms.BooleanField(
        label=_("Archive the community of practice afterwards"), required=False
    )
    # Set once the similar communities were shown: the next Save goes ahead.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    field_order = [
        "name",
        "summary",
        "description",
        "purposes",
        "new_purpose",
        "sponsor",
        "stewards",
        "join_policy",
        "participants",
        "archive_cop",
    ]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("purposes") and not cleaned.get("new_purpose"):
            self.add_error(
                "purposes", _("Choose or write at least one purpose that shapes the future.")
            )
        return cleaned


class StageForm(forms.Form):
    stage = forms.ChoiceField(label=_("Stage"), choices=Community.Stage.choices)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class MergeTargetField(forms.ModelChoiceField):
    """The community that stays, by id, among ``selectors.merge_targets``."""

    def __init__(self, **kwargs):
        super().__init__(
            queryset=Community.objects.none(),
            label=_("The community that stays"),
            error_messages={
                "required": _("Choose the community that stays."),
                "invalid_choice": _(
                    "That community cannot take this one in (it is archived, merged, of "
                    "another kind, or gone). Choose another."
                ),
            },
            **kwargs,
        )


class MergeChooseForm(forms.Form):
    """The merge page's query string: a search for the community that stays, the one
    chosen, and whether people keep their roles. Choosing one shows the preview."""

    q = SearchField()
    target = MergeTargetField(required=False)
    keep_roles = forms.BooleanField(
        label=_("Keep their roles"),
        required=False,
        help_text=_(
            "Stewards and the sponsor here become stewards there. Unticked, everyone who "
            "moves becomes a member, and people already there keep the role they have."
        ),
    )

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = targets


class MergeConfirmForm(forms.Form):
    """The preview's confirmation: the plan it showed, by its fingerprint."""

    target = MergeTargetField(widget=forms.HiddenInput)
    keep_roles = forms.BooleanField(required=False, widget=forms.HiddenInput)
    fingerprint = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, targets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = targets


class LadderFilterForm(PurposeMenuMixin, forms.Form):
    purpose = DirectoryFilterForm.base_fields["purpose"]
    department = DirectoryFilterForm.base_fields["department"]
    kind = DirectoryFilterForm.base_fields["kind"]

    def filtered(self, queryset):
        self.is_valid()
        data = self.cleaned_data
        if data.get("kind"):
            queryset = queryset.filter(kind=data["kind"])
        if data.get("purpose"):
            queryset = queryset.pursuing(data["purpose"])
        if data.get("department"):
            queryset = queryset.in_department(data["department"])
        return queryset
