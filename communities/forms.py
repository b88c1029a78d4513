import re
from datetime import date, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from members.forms import SearchField
from members.models import Department, Member

from . import selectors
from .models import (
    Community,
    Membership,
    MembershipEvent,
    MembershipRule,
    Purpose,
    RosterImport,
    search_words,
)
from .rules import clean_groups


class PurposeMenuMixin:
    """Show the ``purpose`` field as a short menu (plus whatever is selected) and the
    ``department`` field as the menu of every department, both read through the
    selectors' shared caches: a bound form asks the database only for a selected
    purpose outside the menu (one query: is it listed, and its statement)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        menu = selectors.purpose_menu()
        selected = self.data.get("purpose") if self.is_bound else None
        if selected and re.fullmatch(r"[-\w]+", selected) and selected not in dict(menu):
            statement = (
                Purpose.objects.listed()
                .filter(slug=selected)
                .values_list("statement", flat=True)
                .first()
            )
            if statement:
                menu = [(selected, statement), *menu]
        self.fields["purpose"].choices = [("", _("Any purpose")), *menu]
        departments = selectors.departments()
        self.department_ids = {slug: pk for pk, slug, _name in departments}
        self.fields["department"].choices = [
            ("", _("Any department")),
            *[(slug, name) for _pk, slug, name in departments],
        ]

    def clean_department(self) -> int | None:
        """The chosen department's id (the menu holds every department)."""
        return self.department_ids.get(self.cleaned_data.get("department"))


class DirectoryFilterForm(PurposeMenuMixin, forms.Form):
    """The directory's query string: search, filters and sort. Anything
    invalid is dropped rather than rejected, so a hand-edited URL still works."""

    SORT_CHOICES = [
        ("", _("Best match")),
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
    # Menus of slugs (``PurposeMenuMixin`` fills them): a purpose's slug, which
    # ``pursuing`` takes as it is; a department's, cleaned to its id.
    purpose = forms.ChoiceField(label=_("Purpose"), required=False)
    department = forms.ChoiceField(label=_("Department"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("", _("Active and dormant")),
            *[(value, label) for value, label in Community.Status.choices if value != "proposed"],
            ("all", _("Any status, archived too")),
        ],
    )
    join_policy = forms.ChoiceField(
        label=_("Joining"),
        required=False,
        choices=[
            ("", _("Any way of joining")),
            (Community.JoinPolicy.OPEN, _("Open to join")),
            (Community.JoinPolicy.REQUEST, _("Ask to join")),
            (Community.JoinPolicy.INVITE, _("By invitation")),
        ],
    )
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=SORT_CHOICES)
    MENUS = ("status", "join_policy", "kind", "stage", "purpose", "department", "sort")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._menus: list[dict] | None = None

    @property
    def query(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("q", "")

    def filtered(self, queryset, query: str | None = None):
        """Apply the valid parts of the query string to ``queryset``, searching for
        ``query`` (a corrected spelling) instead of ``q`` when given. Archived
        communities are left out unless the status filter asks for them."""
        self.is_valid()
        data = {name: value for name, value in self.cleaned_data.items() if value}
        text = data.get("q", "") if query is None else query
        queryset = queryset.search(text).with_status(data.get("status", ""))
        if "join_policy" in data:
            queryset = queryset.filter(join_policy=data["join_policy"])
        if "kind" in data:
            queryset = queryset.filter(kind=data["kind"])
        if "stage" in data:
            queryset = queryset.filter(stage=data["stage"])
        if "purpose" in data:
            queryset = queryset.pursuing(data["purpose"])
        if "department" in data:
            queryset = queryset.in_department(data["department"])
        if "sort" not in data and search_words(text):
            return queryset.ranked()
        return queryset.sorted_by(data.get("sort", "name"))

    def menus(self) -> list[dict]:
        """The select filters as plain data (labels translated), for the ``filter_menus``
        tag: widget templates cost more than the rest of the page. Made once per form:
        ``chosen_filters`` reads them too, and their 230 options were built twice."""
        if self._menus is None:
            self.is_valid()
            self._menus = []
            for name in self.MENUS:
                field = self.fields[name]
                value = self.data.get(name, "") if self.is_bound else ""
                options = [
                    (str(key), str(label), str(key) == value) for key, label in field.choices
                ]
                self._menus.append({"name": name, "label": str(field.label), "options": options})
        return self._menus

    @property
    def active_filters(self) -> bool:
        self.is_valid()
        return any(
            self.cleaned_data.get(name)
            for name in ("q", "status", "join_policy", "kind", "stage", "purpose", "department")
        )

    def chosen_filters(self) -> list[str]:
        """The menus set to something other than their first choice, as "Kind: Knowledge
        community": what the folded filters say they hold."""
        return [
            f"{menu['label']}: {label}"
            for menu in self.menus()
            for value, label, selected in menu["options"]
            if selected and value
        ]


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
    # Set by the confirmation page: the sponsor's membership the person agreed to replace.
    replacing = forms.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput
    )


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

    person = forms.CharField(
        label=_("Person"),
        required=False,
        max_length=150,
        help_text=_("Part of a name, who acted or whom it was about"),
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # In the address as ?from= and ?to= (Python keeps "from" for itself).
        self.fields["from"] = self.fields.pop("date_from")
        self.fields["to"] = self.fields.pop("date_to")
        self.fields["from"].error_messages["invalid"] = _("Enter a date, such as 2026-03-31.")
        self.fields["to"].error_messages["invalid"] = _("Enter a date, such as 2026-03-31.")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            self.add_error("to", _("The end date comes before the start date."))
        return cleaned

    def filtered(self, queryset):
        """``queryset`` (events) narrowed by every filter that is valid; a filter with
        an error is left out (and the form shows the error)."""
        self.is_valid()
        data = self.cleaned_data
        if data.get("action"):
            queryset = queryset.filter(action=data["action"])
        person = (data.get("person") or "").strip()
        if person:
            queryset = queryset.filter(
                Q(target_name__icontains=person) | Q(actor_name__icontains=person)
            )
        if data.get("from"):
            queryset = queryset.filter(created_at__gte=_start_of_day(data["from"]))
        if data.get("to"):
            queryset = queryset.filter(created_at__lt=_start_of_day(data["to"] + timedelta(days=1)))
        return queryset

    @property
    def active_filters(self) -> bool:
        return any(self.data.get(name) for name in ("action", "person", "from", "to"))


def _start_of_day(day: date) -> datetime:
    """Midnight at the start of ``day`` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


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


IMPORT_MODE_CHOICES = [
    (
        RosterImport.Mode.ALL_OR_NOTHING,
        _("All or nothing: any row with an error blocks Confirm (default)"),
    ),
    (
        RosterImport.Mode.VALID_ROWS,
        _("Apply the valid rows: rows with errors are skipped and listed"),
    ),
]


class ImportModeField(forms.ChoiceField):
    """What rows with errors do to an import (``RosterImport.Mode``)."""

    widget = forms.RadioSelect

    def __init__(self, **kwargs):
        super().__init__(
            label=_("If some rows have errors"),
            choices=IMPORT_MODE_CHOICES,
            initial=RosterImport.Mode.ALL_OR_NOTHING,
            **kwargs,
        )


class RosterImportForm(forms.Form):
    file = forms.FileField(label=_("Roster file (CSV)"))
    remove_absent = forms.BooleanField(
        label=_("Remove active members who are not in the file"), required=False
    )
    # Not required: an upload that does not say (a script, an old page) is all or nothing.
    mode = ImportModeField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "Columns: email or username, role (member, steward, sponsor), and optionally note, "
            "separated by commas, semicolons or tabs. UTF-8, at most 5 MB and %(rows)s rows."
        ) % {"rows": number_format(settings.ROSTER_IMPORT_MAX_ROWS, force_grouping=True)}

    def clean_mode(self) -> str:
        return self.cleaned_data["mode"] or RosterImport.Mode.ALL_OR_NOTHING


class RosterImportModeForm(forms.Form):
    """The choice made again on the preview page, before Confirm."""

    mode = ImportModeField()


class RecordCopForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150)
    summary = forms.CharField(
        label=_("What is practised"),
        max_length=300,
        help_text=_("One sentence: what these people do together."),
    )
    cadence = forms.CharField(label=_("Where and how people meet"), max_length=150, required=False)
    purpose = forms.CharField(
        label=_("Purpose (optional)"),
        max_length=200,
        required=False,
        help_text=_(
            "What the community spreads or brings people up to speed on, e.g. “Faster SQL "
            "for every analyst”. An existing purpose of that name is reused."
        ),
    )
    practise_here = forms.BooleanField(
        label=_("I practise here"),
        required=False,
        initial=True,
        help_text=_(
            "You become its first coordinator: you can edit it, and hand that on to someone "
            "else from its Manage membership page."
        ),
    )
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
    """``purposes``: the purposes it may offer (``access.purposes_to_offer``); its
    future-shaping ones are the choices."""

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
        queryset=Purpose.objects.none(),
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

    def __init__(self, *args, purposes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purposes"].queryset = purposes.filter(
            orientation=Purpose.Orientation.SHAPE_FUTURE
        )

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


class CommunityEditForm(forms.ModelForm):
    """A community's details, as its stewards (a CoP's coordinators) and directory admins
    edit them: ``services.edit_community`` saves them and enforces the rules (a knowledge
    community keeps a purpose that shapes the future). Never ``save()``d itself.

    Purposes: the community's current ones, ticked (untick to drop one), and one more by
    its statement (an existing purpose, or a new one with the chosen orientation).
    ``version`` is the ``updated_at`` the form was drawn from."""

    purposes = forms.ModelMultipleChoiceField(
        label=_("Keep these purposes"),
        queryset=Purpose.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Untick a purpose to drop it."),
    )
    new_purpose = forms.CharField(
        label=_("Add a purpose"),
        max_length=200,
        required=False,
        help_text=_("Its statement: an existing purpose of that name is reused."),
    )
    new_purpose_orientation = forms.ChoiceField(
        label=_("If that purpose is new, it"),
        choices=Purpose.Orientation.choices,
        widget=forms.RadioSelect,
        required=False,
    )
    version = forms.CharField(widget=forms.HiddenInput)

    class Meta:
        model = Community
        fields = ["summary", "description", "join_policy", "cadence", "links"]
        labels = {"cadence": _("Where and how people meet")}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 5}),
            "links": forms.Textarea(attrs={"rows": 3}),
        }

    field_order = [
        "summary",
        "description",
        "purposes",
        "new_purpose",
        "new_purpose_orientation",
        "join_policy",
        "cadence",
        "links",
    ]

    def __init__(self, *args, community: Community, **kwargs):
        super().__init__(*args, instance=community, **kwargs)
        current = community.purposes.order_by("statement")
        self.fields["purposes"].queryset = current
        self.fields["purposes"].initial = list(current)
        self.fields["purposes"].label_from_instance = lambda purpose: (
            f"{purpose.statement} ({purpose.get_orientation_display()})"
        )
        self.fields["new_purpose"].widget.attrs["list"] = "purpose-suggestions"
        self.fields["version"].initial = community.updated_at.isoformat()
        orientation = self.fields["new_purpose_orientation"]
        if community.is_kc:
            self.fields["purposes"].help_text = _(
                "Untick a purpose to drop it. A knowledge community keeps at least one "
                "that shapes the future."
            )
            orientation.initial = Purpose.Orientation.SHAPE_FUTURE
            self.fields["join_policy"].label = _("How people join")
            self.fields["join_policy"].help_text = _(
                "Requests already waiting stay for you to decide."
            )
        else:
            orientation.initial = Purpose.Orientation.SPREAD_PRACTICE
            del self.fields["join_policy"]  # people simply practise in a CoP

    def clean_version(self):
        try:
            version = datetime.fromisoformat(self.cleaned_data["version"])
        except ValueError:
            version = None
        if version is None or version.tzinfo is None:
            raise forms.ValidationError(_("This form is out of date: reload the page."))
        return version

    def changes(self) -> dict:
        """The cleaned data as ``services.edit_community`` takes it."""
        data = self.cleaned_data
        return {
            **{name: data[name] for name in self._meta.fields if name in self.fields},
            "purposes": list(data["purposes"]),
            "new_purpose": data["new_purpose"],
            "new_purpose_orientation": data["new_purpose_orientation"],
            "unchanged_since": data["version"],
        }


class MembershipTermForm(forms.Form):
    """A membership's end date; empty for none."""

    ends_on = forms.DateField(
        label=_("End date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_ends_on(self):
        ends_on = self.cleaned_data["ends_on"]
        if ends_on is not None and ends_on <= timezone.localdate():
            raise forms.ValidationError(_("Choose an end date after today."))
        return ends_on


class DefaultTermForm(forms.Form):
    """A community's default membership term, in months; empty or 0 for none."""

    months = forms.IntegerField(
        label=_("Default membership term (months)"),
        required=False,
        min_value=0,
        max_value=120,
        help_text=_(
            "New active members get an end date this many months ahead (12 for a year). "
            "Leave empty for memberships without an end. Existing end dates stay."
        ),
    )


class ReviewStartForm(forms.Form):
    """When a review of a community's list (or every one) is due."""

    due_on = forms.DateField(label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean_due_on(self):
        due_on = self.cleaned_data["due_on"]
        if due_on <= timezone.localdate():
            raise forms.ValidationError(_("Choose a due date after today."))
        return due_on


class ReviewScheduleForm(forms.Form):
    """How often a community's list is reviewed; empty or 0 for no schedule."""

    every_months = forms.IntegerField(
        label=_("Review every (months)"),
        required=False,
        min_value=0,
        max_value=60,
        help_text=_("12 for a yearly review. Leave empty for no schedule."),
    )


class ReviewConfirmForm(forms.Form):
    """Confirm one person in a review (``one``: their membership), or with ``all``
    everyone still undecided; ``page``: the list's page to return to."""

    one = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    all = forms.BooleanField(required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=100000)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("one") is None and not cleaned.get("all"):
            raise forms.ValidationError(_("Choose whom to confirm."))
        return cleaned


RULE_GROUPS = 3  # condition groups a rule offers (OR-ed), plain fields, no script


class MembershipRuleForm(forms.Form):
    """A community's membership rule: up to ``RULE_GROUPS`` groups of conditions; a
    person matches a group when every filled condition in it holds, and the rule when
    any group matches."""

    name = forms.CharField(label=_("Rule name"), max_length=100)
    mode = forms.ChoiceField(
        label=_("Mode"), choices=MembershipRule.Mode.choices, widget=forms.RadioSelect
    )
    confirm = forms.BooleanField(label=_("Yes, apply this rule to the list now"), required=False)

    def __init__(self, *args, rule: MembershipRule | None = None, **kwargs):
        if rule is not None and not kwargs.get("data") and not (args and args[0]):
            initial = {"name": rule.name, "mode": rule.mode}
            for number, group in enumerate(rule.groups[:RULE_GROUPS], start=1):
                initial[f"departments_{number}"] = group.get("departments", [])
                initial[f"job_title_{number}"] = group.get("job_title", "")
                initial[f"location_{number}"] = group.get("location", "")
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        departments = Department.objects.order_by("name")
        for number in range(1, RULE_GROUPS + 1):
            self.fields[f"departments_{number}"] = forms.ModelMultipleChoiceField(
                label=_("Department is one of"),
                queryset=departments,
                required=False,
                widget=forms.SelectMultiple(attrs={"size": 4, "class": "form-select"}),
            )
            self.fields[f"job_title_{number}"] = forms.CharField(
                label=_("Job title contains"), max_length=150, required=False
            )
            self.fields[f"location_{number}"] = forms.CharField(
                label=_("Location is"), max_length=120, required=False
            )

    def groups_of_fields(self) -> list[list]:
        """The bound fields of each group, for the template's fieldsets."""
        return [
            [self[f"{name}_{number}"] for name in ("departments", "job_title", "location")]
            for number in range(1, RULE_GROUPS + 1)
        ]

    def clean(self):
        cleaned = super().clean()
        groups = []
        for number in range(1, RULE_GROUPS + 1):
            departments = cleaned.get(f"departments_{number}") or []
            groups.append(
                {
                    "departments": [department.pk for department in departments],
                    "job_title": cleaned.get(f"job_title_{number}", ""),
                    "location": cleaned.get(f"location_{number}", ""),
                }
            )
        cleaned["groups"] = clean_groups(groups)
        if not cleaned["groups"]:
            raise forms.ValidationError(
                _("Fill in at least one condition: a department, a job title or a location.")
            )
        return cleaned
