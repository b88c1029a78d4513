"""Roster import and export: the CSV pages, the services behind them and the commands.

Import is two steps: upload (``communities:roster_import``) plans the file once, stores
the plan (a ``RosterImport`` and its ``RosterImportRow``s) and redirects to its preview,
which pages the stored plan; POST to the preview (Confirm) applies exactly that plan. A refused
upload or confirmation must leave the roster, its history and the stored imports
exactly as they were.
"""

import codecs
import csv
import datetime
import io
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_init
from django.http import StreamingHttpResponse
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.utils import timezone

from communities import services
from communities.csv_io import cells, exports, pg_copy, roster_upload, separators
from communities.models import (
    Community,
    Membership,
    MembershipEvent,
    RosterImport,
    RosterImportRow,
)
from communities.services import bulk
from members.models import Member

from .factories import (
    CommunityFactory,
    DepartmentFactory,
    MemberFactory,
    MembershipFactory,
    PurposeFactory,
    member_named,
)
from .pages import alerts, assert_sent_to_sign_in, inline_text, page_text

pytestmark = pytest.mark.django_db

State = Membership.State
Role = Membership.Role
Action = MembershipEvent.Action


# -- helpers --------------------------------------------------------------------------


def url(name: str, *args) -> str:
    return reverse(f"communities:{name}", args=args)


def csv_text(*lines: str, header: str = "email,role,note") -> str:
    return "\n".join([header, *lines]) + "\n"


ALL_OR_NOTHING, VALID_ROWS = RosterImport.Mode.ALL_OR_NOTHING, RosterImport.Mode.VALID_ROWS


def upload(client, community, content, *, name="roster.csv", remove_absent=False, mode=None):
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    payload = {"file": SimpleUploadedFile(name, data, content_type="text/csv")}
    if remove_absent:
        payload["remove_absent"] = "on"
    if mode is not None:
        payload["mode"] = mode
    return client.post(url("roster_import", community.slug), payload)


def pending_from(response) -> RosterImport:
    """The RosterImport an accepted upload redirected to."""
    assert response.status_code == 302, response.content.decode()[:2000]
    match = resolve(response.url)
    assert match.view_name == "communities:roster_import_preview"
    return RosterImport.objects.get(pk=match.kwargs["pk"])


def preview_url(pending: RosterImport) -> str:
    return url("roster_import_preview", pending.community.slug, pending.pk)


def preview_table(response) -> list[dict[str, str]]:
    """The preview's rows as the page shows them (line, key, person, action, role, details)."""
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S).group(1)
    names = ["line", "key", "person", "action", "role", "details"]
    return [
        dict(
            zip(
                names,
                (inline_text(c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)),
                strict=True,
            )
        )
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def has_confirm_button(response) -> bool:
    """An enabled Confirm button, in a form."""
    found = re.search(r"<button([^>]*)>\s*Confirm\s*</button>", response.content.decode())
    return found is not None and "disabled" not in found.group(1)


def confirm_is_blocked(response) -> bool:
    """Confirm shown, disabled."""
    found = re.search(r"<button([^>]*)>\s*Confirm\s*</button>", response.content.decode())
    return found is not None and "disabled" in found.group(1)


def snapshot():
    """Everything a refused upload or confirmation must leave alone."""
    memberships = sorted(
        Membership.objects.values_list(
            "pk", "community_id", "member_id", "role", "state", "note", "decided_by_id"
        )
    )
    imports = sorted(RosterImport.objects.values_list("pk", "applied_at", "applied_by_id", "mode"))
    return memberships, MembershipEvent.objects.count(), imports


def roster_of(community) -> dict[str, str]:
    """Active display name -> role."""
    return dict(
        community.memberships.filter(state=State.ACTIVE).values_list("member__display_name", "role")
    )


def streamed_bytes(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "exports start with a UTF-8 BOM for spreadsheets"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# -- people ---------------------------------------------------------------------------


@pytest.fixture
def people(db):
    """Staff who are not (yet) in ``open_kc``."""
    return SimpleNamespace(
        priya=member_named("Priya Patel"),
        omar=member_named("Omar Okafor"),
        lena=member_named("Lena Lind"),
    )


@pytest.fixture
def plain_member(open_kc, member):
    """The shared ``member``'s membership of ``open_kc``: active, no role."""
    return open_kc.memberships.get(member__user=member)


def actor_of(user) -> Member:
    return user.member


def sponsor_of(community) -> Membership:
    return community.memberships.get(state=State.ACTIVE, role=Role.SPONSOR)


# -- row-level errors: listed first; they block the import, or are skipped by choice -------


ROW_ERRORS = {
    "unknown person": (
        ["nobody@example.org,member,"],
        "nobody@example.org",
        "No one in the directory has this email or username.",
    ),
    "bad role": (
        ["omar.okafor@example.org,chief,"],
        "omar.okafor@example.org",
        "Unknown role “chief”: use member, sponsor, steward.",
    ),
    "duplicate row": (
        ["omar.okafor@example.org,member,", "OMAR.OKAFOR@example.org,steward,"],
        "omar.okafor@example.org",
        "Duplicate: Omar Okafor is already on line 3.",
    ),
    "empty line": (["", ",,"], "—", "Empty line."),
    "no key": ([",member,a note"], "—", "No email or username on this line."),
}


@pytest.mark.parametrize("kind", ROW_ERRORS)
def test_a_row_error_is_listed_first_and_blocks_confirm_all_or_nothing_by_default(
    client, steward, open_kc, people, kind
):
    bad_lines, shown_key, reason = ROW_ERRORS[kind]
    client.force_login(steward)
    before = snapshot()

    pending = pending_from(
        upload(client, open_kc, csv_text("priya.patel@example.org,member,", *bad_lines))
    )
    preview = client.get(preview_url(pending))

    assert pending.mode == ALL_OR_NOTHING
    rows = preview_table(preview)
    errors = [row for row in rows if row["action"] == "Error"]
    assert len(errors) == (1 if kind == "duplicate row" else len(bad_lines))
    assert rows[: len(errors)] == errors, "the rows with errors come first"
    assert errors[-1]["key"] == shown_key
    assert errors[-1]["details"] == reason
    assert confirm_is_blocked(preview) and not has_confirm_button(preview)
    assert "This import is all or nothing, so nothing can be applied" in page_text(preview)
    assert snapshot()[:2] == before[:2], "a preview changes nothing"

    response = client.post(preview_url(pending), {"mode": ALL_OR_NOTHING}, follow=True)

    assert response.redirect_chain == [(url("roster_import", open_kc.slug), 302)]
    count = len(errors)
    assert alerts(response) == [
        f"{count} {'row has an error' if count == 1 else 'rows have errors'} and this import is "
        "all or nothing, so nothing was applied. Correct the file and upload it again, or choose "
        "“Apply the valid rows”."
    ]
    assert snapshot()[:2] == before[:2]
    pending.refresh_from_db()
    assert pending.applied_at is None


@pytest.mark.parametrize("kind", ROW_ERRORS)
def test_applying_the_valid_rows_skips_the_error_rows_and_lists_them_after(
    client, steward, open_kc, people, kind
):
    bad_lines, shown_key, reason = ROW_ERRORS[kind]
    client.force_login(steward)
    events_before = MembershipEvent.objects.count()

    pending = pending_from(
        upload(
            client,
            open_kc,
            csv_text("priya.patel@example.org,member,", *bad_lines),
            mode=VALID_ROWS,
        )
    )
    preview = client.get(preview_url(pending))

    skipped = 1 if kind == "duplicate row" else len(bad_lines)
    applied = 2 if kind == "duplicate row" else 1  # the first of two lines applies
    assert has_confirm_button(preview)
    assert (
        f"{'One row has' if skipped == 1 else f'{skipped} rows have'} "
        f"{'an error: it is' if skipped == 1 else 'errors: they are'} listed first and will be "
        f"skipped. {applied} changes from the valid rows will be applied."
    ) in page_text(preview)

    response = client.post(preview_url(pending), {"mode": VALID_ROWS}, follow=True)

    assert response.redirect_chain == [(preview_url(pending), 302)]
    assert alerts(response)[0] == (
        f"Import applied: {applied} added, 0 roles changed, 0 removed. {skipped} "
        f"{'row with an error was' if skipped == 1 else 'rows with errors were'} skipped."
    )
    assert "This import was already applied." in alerts(response)
    listed = preview_table(response)
    assert [row["action"] for row in listed] == ["Error"] * skipped
    assert (listed[-1]["key"], listed[-1]["details"]) == (shown_key, reason)
    assert not has_confirm_button(response) and not confirm_is_blocked(response)
    expected = {
        "Spencer Sponsor": Role.SPONSOR,
        "Stella Steward": Role.STEWARD,
        "Priya Patel": Role.MEMBER,
    }
    if kind == "duplicate row":
        expected["Omar Okafor"] = Role.MEMBER
    assert roster_of(open_kc) == expected
    assert MembershipEvent.objects.count() == events_before + applied, "events for applied rows"
    assert pending.rows.count() == skipped, "only the skipped rows are kept"


def test_plan_gives_each_bad_row_its_reason_and_applying_the_valid_rows_leaves_them_out(
    steward, open_kc, people
):
    text = csv_text(
        "priya.patel@example.org,member,",  # line 2
        "nobody@example.org,member,",  # 3
        "omar.okafor@example.org,overlord,",  # 4
        "",  # 5
        "PRIYA.PATEL@EXAMPLE.ORG,steward,",  # 6
        "lena.lind,steward,welcome",  # 7 (by username)
    )

    plan = roster_upload.plan_import(open_kc, text)

    rows = {row.line: (row.action, row.message) for row in plan.rows}
    assert rows == {
        2: ("add", ""),
        3: ("error", "No one in the directory has this email or username."),
        4: ("error", "Unknown role “overlord”: use member, sponsor, steward."),
        5: ("error", "Empty line."),
        6: ("error", "Duplicate: Priya Patel is already on line 2."),
        7: ("add", ""),
    }
    assert plan.totals() == {
        "add": 2,
        "change": 0,
        "unchanged": 0,
        "remove": 0,
        "skip": 0,
        "error": 4,
    }
    assert plan.can_apply

    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor_of(steward),
        file_name="people.csv",
        text=text,
        remove_absent=False,
        mode=VALID_ROWS,
    )
    assert [row.line for row in pending.rows.order_by("position")] == [3, 4, 5, 6, 2, 7]
    totals = services.apply_roster_import(roster_import=pending, actor=actor_of(steward))

    assert totals["add"] == 2 and totals["error"] == 4 and totals["skipped"] == 4
    assert list(pending.rows.order_by("position").values_list("line", "action")) == [
        (3, "error"),
        (4, "error"),
        (5, "error"),
        (6, "error"),
    ]
    assert roster_of(open_kc) == {
        "Spencer Sponsor": Role.SPONSOR,
        "Stella Steward": Role.STEWARD,
        "Priya Patel": Role.MEMBER,
        "Lena Lind": Role.STEWARD,
    }
    assert not Membership.objects.filter(member=people.omar).exists()


def test_rows_whose_state_is_not_active_are_skipped(steward, open_kc, people):
    plan = roster_upload.plan_import(
        open_kc,
        "email,role,state\n"
        "priya.patel@example.org,member,invited\n"
        "omar.okafor@example.org,member,\n",
    )

    assert [(row.key, row.action, row.message) for row in plan.rows] == [
        ("priya.patel@example.org", "skip", "Not active in the file; left as it is."),
        ("omar.okafor@example.org", "add", ""),
    ]


def test_a_coordinator_role_in_a_cop_file_means_steward_and_member_means_participant(
    directory_admin, cop, people
):
    plan = roster_upload.plan_import(
        cop, csv_text("priya.patel@example.org,coordinator,", "omar.okafor@example.org,member,")
    )

    assert [(row.action, row.role) for row in plan.rows] == [
        ("add", Role.STEWARD),
        ("add", Role.PARTICIPANT),
    ]
    sponsor_row = roster_upload.plan_import(cop, csv_text("lena.lind@example.org,sponsor,")).rows[0]
    assert sponsor_row.action == "error"
    assert sponsor_row.message == "Unknown role “sponsor”: use participant, steward."


def test_an_email_shared_by_two_people_is_an_error_not_a_guess(open_kc):
    member_named("Alex One", username="alex1", user__email="team@example.org")
    member_named("Alex Two", username="alex2", user__email="team@example.org")

    row = roster_upload.plan_import(open_kc, csv_text("team@example.org,member,")).rows[0]

    assert row.action == "error"


def test_state_column_is_read_case_insensitively_like_role(open_kc, people):
    plan = roster_upload.plan_import(
        open_kc, "email,role,state\npriya.patel@example.org,Member,Active\n"
    )

    assert [row.action for row in plan.rows] == ["add"]


def test_preview_shows_hostile_cells_and_file_names_as_text(client, steward, open_kc):
    client.force_login(steward)
    hostile = "<script>alert(1)</script>"

    pending = pending_from(
        upload(
            client, open_kc, csv_text(f"{hostile},member,"), name="<img src=x onerror=alert(2)>.csv"
        )
    )
    response = client.get(preview_url(pending))

    body = response.content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body
    assert preview_table(response)[0]["key"] == hostile
    assert "Preview of &lt;img src=x onerror=alert(2)&gt;.csv" in body


# -- the choice: all or nothing, or apply the valid rows ---------------------------------


def test_the_upload_form_offers_the_choice_with_all_or_nothing_chosen(client, steward, open_kc):
    client.force_login(steward)

    body = page_text(client.get(url("roster_import", open_kc.slug)))

    assert "If some rows have errors" in body
    checked = re.findall(r'<input type="radio"[^>]* name="mode" value="(\w+)"[^>]*checked', body)
    assert checked == [ALL_OR_NOTHING]
    assert 'value="valid_rows"' in body and "Apply the valid rows" in body


@pytest.mark.parametrize("mode", [ALL_OR_NOTHING, VALID_ROWS])
def test_the_choice_made_at_upload_is_stored_with_the_plan(client, steward, open_kc, people, mode):
    client.force_login(steward)

    pending = pending_from(upload(client, open_kc, csv_text("priya.patel,member,"), mode=mode))

    assert pending.mode == mode


def test_an_upload_with_an_unknown_choice_is_refused_and_stores_nothing(client, steward, open_kc):
    client.force_login(steward)

    response = upload(client, open_kc, csv_text("priya.patel,member,"), mode="whatever")

    assert response.status_code == 200
    assert "mode" in response.context["form"].errors
    assert not RosterImport.objects.exists()


def test_choosing_the_valid_rows_on_the_preview_unblocks_confirm_and_applies_them(
    client, steward, open_kc, people
):
    client.force_login(steward)
    pending = pending_from(
        upload(client, open_kc, csv_text("priya.patel,member,", "ghost@example.org,member,"))
    )
    assert confirm_is_blocked(client.get(preview_url(pending)))

    chosen = client.post(url("roster_import_mode", open_kc.slug, pending.pk), {"mode": VALID_ROWS})

    assert chosen.url == preview_url(pending)
    pending.refresh_from_db()
    assert pending.mode == VALID_ROWS and pending.applied_at is None
    assert not Membership.objects.filter(member=people.priya).exists(), "choosing applies nothing"
    preview = client.get(preview_url(pending))
    assert has_confirm_button(preview)
    assert '<input type="hidden" name="mode" value="valid_rows">' in preview.content.decode()

    applied = client.post(preview_url(pending), {"mode": VALID_ROWS}, follow=True)

    assert alerts(applied)[0] == (
        "Import applied: 1 added, 0 roles changed, 0 removed. 1 row with an error was skipped."
    )
    assert [(row["key"], row["details"]) for row in preview_table(applied)] == [
        ("ghost@example.org", "No one in the directory has this email or username.")
    ]
    assert roster_of(open_kc)["Priya Patel"] == Role.MEMBER


def test_choosing_all_or_nothing_again_blocks_confirm_again(client, steward, open_kc, people):
    client.force_login(steward)
    pending = pending_from(
        upload(client, open_kc, csv_text("priya.patel,member,", "ghost,member,"), mode=VALID_ROWS)
    )

    client.post(url("roster_import_mode", open_kc.slug, pending.pk), {"mode": ALL_OR_NOTHING})

    pending.refresh_from_db()
    assert pending.mode == ALL_OR_NOTHING
    assert confirm_is_blocked(client.get(preview_url(pending)))


@pytest.mark.parametrize("who", ["steward", "directory_admin"])
@pytest.mark.parametrize("posted", [{}, {"mode": ALL_OR_NOTHING}, {"mode": VALID_ROWS}])
def test_a_confirm_post_cannot_apply_an_all_or_nothing_plan_with_errors(
    client, request, open_kc, people, posted, who
):
    """Whatever the POST says, the stored mode rules: claiming "valid_rows" on the
    confirmation does not change the plan's mode, it is refused as not what was shown."""
    client.force_login(request.getfixturevalue(who))
    pending = pending_from(
        upload(client, open_kc, csv_text("priya.patel,member,", "ghost@example.org,member,"))
    )
    before = snapshot()

    response = client.post(preview_url(pending), posted, follow=True)

    assert response.redirect_chain == [(url("roster_import", open_kc.slug), 302)]
    if posted.get("mode") == VALID_ROWS:
        assert alerts(response) == [
            "The choice for rows with errors changed since this page was shown, so nothing "
            "was applied. Look at the preview again."
        ]
    else:
        assert alerts(response)[0].startswith("1 row has an error and this import is all or")
    assert snapshot() == before
    assert not Membership.objects.filter(member=people.priya).exists()


def test_a_confirm_from_a_page_showing_another_choice_is_refused(client, steward, open_kc, people):
    """Two tabs: one switched to all or nothing after the other showed the valid rows."""
    client.force_login(steward)
    pending = pending_from(
        upload(client, open_kc, csv_text("priya.patel,member,", "ghost,member,"), mode=VALID_ROWS)
    )
    services.choose_roster_import_mode(roster_import=pending, mode=ALL_OR_NOTHING)
    before = snapshot()

    response = client.post(preview_url(pending), {"mode": VALID_ROWS}, follow=True)

    assert "The choice for rows with errors changed" in alerts(response)[0]
    assert snapshot() == before


def test_the_service_refuses_an_all_or_nothing_plan_with_errors_whatever_its_totals_say(
    steward, open_kc, people
):
    pending = store_plan(open_kc, actor_of(steward), ["priya.patel,member,", "ghost,member,"])
    # The stored totals now claim no errors: the rows themselves still have one.
    RosterImport.objects.filter(pk=pending.pk).update(totals={**pending.totals, "error": 0})
    pending.refresh_from_db()
    assert pending.can_apply
    before = snapshot()

    with pytest.raises(services.MembershipError, match="1 row has an error"):
        services.apply_roster_import(roster_import=pending, actor=actor_of(steward))

    assert snapshot() == before
    assert pending.rows.count() == 2


def test_the_service_applies_the_valid_rows_with_one_event_each_and_keeps_the_skipped_rows(
    steward, open_kc, plain_member, people
):
    pending = store_plan(
        open_kc,
        actor_of(steward),
        ["ghost,member,", "priya.patel,member,", "mo,steward,", "omar.okafor,chief,"],
        mode=VALID_ROWS,
    )

    totals = services.apply_roster_import(
        roster_import=pending, actor=actor_of(steward), mode=VALID_ROWS
    )

    assert (totals["add"], totals["change"], totals["error"], totals["skipped"]) == (1, 1, 2, 2)
    imported = MembershipEvent.objects.filter(note__startswith="Imported from")
    assert sorted(imported.values_list("target_name", "action")) == [
        ("Mo Member", Action.ROLE_CHANGED),
        ("Priya Patel", Action.ADDED),
    ]
    assert not Membership.objects.filter(member=people.omar).exists()
    assert list(pending.rows.order_by("position").values_list("line", "action")) == [
        (2, "error"),
        (5, "error"),
    ]
    pending.refresh_from_db()
    assert pending.listed_row_count == 2


def test_the_choice_cannot_change_once_applied(client, steward, open_kc, people):
    client.force_login(steward)
    pending = pending_from(upload(client, open_kc, csv_text("priya.patel,member,")))
    client.post(preview_url(pending))
    before = snapshot()

    response = client.post(
        url("roster_import_mode", open_kc.slug, pending.pk), {"mode": VALID_ROWS}, follow=True
    )

    assert "This import was already applied; nothing more to do." in alerts(response)
    assert snapshot() == before
    with pytest.raises(services.MembershipError, match="already applied"):
        services.choose_roster_import_mode(roster_import=pending, mode=VALID_ROWS)


@pytest.mark.parametrize("data", [{}, {"mode": "everything"}])
def test_an_unknown_choice_on_the_preview_changes_nothing(client, steward, open_kc, people, data):
    client.force_login(steward)
    pending = pending_from(upload(client, open_kc, csv_text("priya.patel,member,", "ghost,x,")))
    before = snapshot()

    response = client.post(url("roster_import_mode", open_kc.slug, pending.pk), data, follow=True)

    assert "Choose what to do with the rows with errors." in alerts(response)
    assert snapshot() == before


def test_the_choice_is_offered_on_the_preview_only_when_rows_have_errors(
    client, steward, open_kc, people
):
    client.force_login(steward)
    clean = pending_from(upload(client, open_kc, csv_text("priya.patel,member,")))
    with_error = pending_from(upload(client, open_kc, csv_text("priya.patel,member,", "ghost,,")))

    clean_page, error_page = client.get(preview_url(clean)), client.get(preview_url(with_error))

    mode_action = url("roster_import_mode", open_kc.slug, with_error.pk)
    assert "If some rows have errors" not in page_text(clean_page)
    assert has_confirm_button(clean_page)
    assert f'action="{mode_action}"' in error_page.content.decode()
    assert "If some rows have errors" in page_text(error_page)


def test_import_command_is_all_or_nothing_unless_valid_rows_is_given(
    tmp_path, steward, open_kc, people
):
    roster = tmp_path / "r.csv"
    roster.write_text(csv_text("priya.patel,member,", "ghost,member,"), encoding="utf-8")
    before = snapshot()

    with pytest.raises(CommandError, match="Nothing applied: 1 rows have errors"):
        run("import_roster", open_kc.slug, str(roster), "--as", "steward", "--apply")
    assert snapshot() == before

    out, _err = run(
        "import_roster", open_kc.slug, str(roster), "--as", "steward", "--apply", "--valid-rows"
    )

    assert "Applied. 1 rows with errors skipped." in out
    assert roster_of(open_kc)["Priya Patel"] == Role.MEMBER


# -- separators: ",", ";" (Excel in many languages) or tabs, told by the header ------------


@pytest.mark.parametrize(
    "header, separator",
    [
        ("email,role,note", ","),
        ("email;role;note", ";"),
        ("email\trole\tnote", "\t"),
        ("\ufeffEmail ; Role", ";"),
        ('"email";"role"', ";"),
        ("name,email,username,department,role,state,joined,decided_by", ","),
        ("email", ","),  # one column: nothing to tell, and the column check says what is missing
        ("", ","),
        ("who|what", ","),
        ("email,role,notes; comments", ","),  # a heading may hold the other separator
    ],
)
def test_the_separator_is_the_one_with_which_the_header_names_known_columns(header, separator):
    text = header + "\npriya.patel;member,x\n"

    assert separators.detect_separator(text, roster_upload.COLUMNS) == separator


@pytest.mark.parametrize("header", ["email;role,note", "username,role;note"])
def test_a_header_that_reads_as_columns_with_two_separators_is_ambiguous(header):
    with pytest.raises(separators.AmbiguousSeparator) as error:
        separators.detect_separator(header + "\n", roster_upload.COLUMNS)

    assert error.value.names() == "“,” and “;”"


@pytest.mark.parametrize("separator", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_a_file_plans_the_same_whatever_its_separator_with_quoted_separators_in_cells(
    open_kc, people, separator
):
    rows = [
        ["email", "role", "note"],
        ["priya.patel@example.org", "member", "Leeds; Manchester, and York\tNorth"],
        ["omar.okafor", "steward", 'She said "yes", then; left'],
        ["ghost@example.org", "member", ""],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=separator, quoting=csv.QUOTE_MINIMAL).writerows(rows)

    plan = roster_upload.plan_import(
        open_kc, roster_upload.decode_upload(buffer.getvalue().encode())
    )

    assert [(row.line, row.key, row.action, row.note) for row in plan.rows] == [
        (2, "priya.patel@example.org", "add", "Leeds; Manchester, and York\tNorth"),
        (3, "omar.okafor", "add", 'She said "yes", then; left'),
        (4, "ghost@example.org", "error", ""),
    ]


def test_the_preview_service_stores_a_semicolon_plan_read_with_its_bom_still_on(
    steward, open_kc, people
):
    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor_of(steward),
        file_name="r.csv",
        text='\ufeffEmail;Role;Note\r\npriya.patel;member;"a, b; c"\r\nghost;member;\r\n',
        remove_absent=False,
        mode=VALID_ROWS,
    )

    assert list(pending.rows.order_by("position").values_list("key", "action", "note")) == [
        ("ghost", "error", ""),
        ("priya.patel", "add", "a, b; c"),
    ]
    totals = services.apply_roster_import(roster_import=pending, actor=actor_of(steward))
    assert (totals["add"], totals["skipped"]) == (1, 1)
    assert Membership.objects.get(member=people.priya).note == "Imported from r.csv: a, b; c"


def test_an_excel_semicolon_file_with_a_bom_imports_through_the_page(
    client, steward, open_kc, people
):
    client.force_login(steward)
    data = codecs.BOM_UTF8 + (
        b"Email;Role;Note\r\n"
        b'priya.patel@example.org;member;"Leeds; Manchester, UK"\r\n'
        b"omar.okafor@example.org;Steward;\r\n"
    )

    pending = pending_from(upload(client, open_kc, data, name="Excel export.csv"))
    preview = client.get(preview_url(pending))

    assert [(row["key"], row["action"], row["role"]) for row in preview_table(preview)] == [
        ("priya.patel@example.org", "Add", "member"),
        ("omar.okafor@example.org", "Add", "steward"),
    ]
    client.post(preview_url(pending))
    priya = Membership.objects.get(community=open_kc, member=people.priya)
    assert priya.note == "Imported from Excel export.csv: Leeds; Manchester, UK"
    assert roster_of(open_kc)["Omar Okafor"] == Role.STEWARD


@pytest.mark.parametrize(
    "data, message",
    [
        (
            b"email;role,note\npriya.patel;member\n",
            "The first row mixes separators (\u201c,\u201d and \u201c;\u201d), so its columns "
            "are unclear. Save the file with one separator; the first row must name the "
            "columns: \u201cemail\u201d or \u201cusername\u201d, and \u201crole\u201d "
            "(optionally \u201cnote\u201d).",
        ),
        (
            b"email|role\npriya.patel|member\n",
            "The first row must name the columns, separated by \u201c,\u201d or \u201c;\u201d: "
            "\u201cemail\u201d or \u201cusername\u201d, and \u201crole\u201d (optionally "
            "\u201cnote\u201d). Found: email|role.",
        ),
    ],
    ids=["mixed", "neither"],
)
def test_a_file_with_mixed_or_unknown_separators_is_refused_naming_the_columns(
    client, steward, open_kc, data, message
):
    client.force_login(steward)
    before = snapshot()

    response = upload(client, open_kc, data)

    assert response.context["form"].errors["file"] == [message]
    assert snapshot() == before and not RosterImport.objects.exists()


def test_exports_stay_comma_separated(client, steward, open_kc):
    client.force_login(steward)

    data = streamed_bytes(client.get(url("roster_export", open_kc.slug)))

    assert data.decode("utf-8-sig").splitlines()[0] == ",".join(exports.ROSTER_HEADER)


# -- file-level refusals: a message on the form, nothing stored or changed ---------------


def _over_five_megabytes() -> bytes:
    line = b"priya.patel@example.org,member,padding padding padding padding\n"
    body = b"email,role,note\n" + line * (roster_upload.MAX_UPLOAD_BYTES // len(line) + 1)
    assert len(body) > roster_upload.MAX_UPLOAD_BYTES
    return body


FILE_REFUSALS = {
    "latin-1 bytes": (
        "roster.csv",
        "email,role,note\npriya.patel@example.org,member,Café\n".encode("latin-1"),
        "The file is not UTF-8 text (byte 50). In your spreadsheet, save it as “CSV UTF-8” "
        "and try again.",
    ),
    "UTF-16": (
        "roster.csv",
        "email,role\npriya.patel@example.org,member\n".encode("utf-16"),
        "The file is UTF-16 text. In your spreadsheet, save it as “CSV UTF-8” and try again.",
    ),
    "over 5 MB": (
        "roster.csv",
        _over_five_megabytes(),
        "The file is larger than 5 MB. Split it into smaller files.",
    ),
    "no email or username column": (
        "roster.csv",
        b"name,role\nPriya Patel,member\n",
        "The first row must name the columns, separated by “,” or “;”: “email” or "
        "“username”, and “role” (optionally “note”). Found: name, role.",
    ),
    "no role column": (
        "roster.csv",
        b"email,note\npriya.patel@example.org,hi\n",
        "The first row must name the columns, separated by “,” or “;”: “email” or "
        "“username”, and “role” (optionally “note”). Found: email, note.",
    ),
    "an .xlsx file": (
        "roster.xlsx",
        b"PK\x03\x04\x14\x00\x06\x00",
        "Upload a .csv file (comma-separated values).",
    ),
    "binary content named .csv": (
        "roster.csv",
        b"email,role\n\x00\x01\x02\xff\xfe\x00",
        "This is not a text file. Save the roster as CSV and try again.",
    ),
    "an empty file": ("roster.csv", b"", "The submitted file is empty."),
    "only blank lines": ("roster.csv", b"\n\r\n  \n", "The file is empty."),
    "only a BOM": ("roster.csv", b"\xef\xbb\xbf", "The file has no header row."),
}


@pytest.mark.parametrize("kind", FILE_REFUSALS)
def test_unreadable_file_is_refused_on_the_form_and_nothing_is_stored(
    client, steward, open_kc, people, kind
):
    name, data, message = FILE_REFUSALS[kind]
    client.force_login(steward)
    before = snapshot()

    response = upload(client, open_kc, data, name=name)

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [message]
    assert message in page_text(response)
    assert snapshot() == before
    assert not RosterImport.objects.exists()


@pytest.mark.parametrize(
    "data, name, message",
    [
        (b"email,role\ncaf\xe9,member\n", "r.csv", "not UTF-8 text"),
        (b"\x00" * 10, "r.csv", "not a text file"),
        ("email,role\n".encode("utf-16-le"), "r.csv", "not a text file"),
        (codecs.BOM_UTF16_BE + "email,role\n".encode("utf-16-be"), "r.csv", "UTF-16"),
        (b"a" * (roster_upload.MAX_UPLOAD_BYTES + 1), "r.csv", "larger than 5 MB"),
        (b"email,role\n", "roster.xlsx", "Upload a .csv file"),
        (b"   \n", "r.csv", "The file is empty."),
    ],
)
def test_decode_upload_refuses_unreadable_bytes(data, name, message):
    with pytest.raises(roster_upload.RosterFileError, match=re.escape(message)):
        roster_upload.decode_upload(data, name=name)


@pytest.mark.parametrize("header", ["name,role", "email,note", "username", ""])
def test_preview_service_refuses_a_file_without_the_needed_columns(steward, open_kc, header):
    with pytest.raises(roster_upload.RosterFileError):
        services.preview_roster_import(
            community=open_kc,
            actor=actor_of(steward),
            file_name="roster.csv",
            text=header + "\npriya.patel@example.org,member\n",
            remove_absent=False,
        )
    assert not RosterImport.objects.exists()


def test_utf8_with_bom_and_windows_line_endings_is_accepted(client, steward, open_kc, people):
    client.force_login(steward)
    data = (
        "\ufeffEmail,Role,Note\r\n"
        'priya.patel@example.org,member,"Hired in\r\nMarch"\r\n'
        "omar.okafor@example.org,Steward,\r\n"
    ).encode()

    pending = pending_from(upload(client, open_kc, data, name="FROM-EXCEL.CSV"))
    preview = client.get(preview_url(pending))

    assert [(row["key"], row["action"], row["role"]) for row in preview_table(preview)] == [
        ("priya.patel@example.org", "Add", "member"),
        ("omar.okafor@example.org", "Add", "steward"),
    ]
    client.post(preview_url(pending))
    priya = Membership.objects.get(community=open_kc, member=people.priya)
    assert priya.note == "Imported from FROM-EXCEL.CSV: Hired in\r\nMarch"
    assert roster_of(open_kc)["Omar Okafor"] == Role.STEWARD


# -- applying ---------------------------------------------------------------------------


def test_valid_file_applies_once_and_a_second_confirm_is_refused(client, steward, open_kc, people):
    client.force_login(steward)
    pending = pending_from(
        upload(client, open_kc, csv_text("priya.patel@example.org,member,", "omar.okafor,steward,"))
    )

    first = client.post(preview_url(pending), follow=True)

    assert alerts(first) == ["Import applied: 2 added, 0 roles changed, 0 removed."]
    assert first.redirect_chain == [(url("community_manage", open_kc.slug), 302)]
    pending.refresh_from_db()
    assert pending.applied_at is not None
    assert pending.applied_by == actor_of(steward)
    after_first = snapshot()

    second = client.post(preview_url(pending), follow=True)

    assert second.redirect_chain == [(url("roster_import", open_kc.slug), 302)]
    assert alerts(second) == ["This import was already applied; nothing more to do."]
    assert snapshot() == after_first
    assert Membership.objects.filter(community=open_kc, member=people.priya).count() == 1
    assert MembershipEvent.objects.filter(community=open_kc, target=people.priya).count() == 1
    again = client.get(preview_url(pending))
    assert "This import was already applied." in alerts(again)
    assert not has_confirm_button(again)


def test_applying_twice_through_the_service_is_refused(steward, open_kc, people):
    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor_of(steward),
        file_name="r.csv",
        text=csv_text("priya.patel@example.org,member,"),
        remove_absent=False,
    )
    services.apply_roster_import(roster_import=pending, actor=actor_of(steward))
    before = snapshot()

    with pytest.raises(services.MembershipError, match="already applied"):
        services.apply_roster_import(roster_import=pending, actor=actor_of(steward))
    assert snapshot() == before


def test_one_event_per_changed_row_with_the_actor_and_the_file_name(
    client, steward, open_kc, plain_member, people
):
    former = MembershipFactory(
        community=open_kc, member=people.lena, state=State.LEFT, role=Role.MEMBER
    )
    client.force_login(steward)
    events_before = MembershipEvent.objects.count()
    text = csv_text(
        "priya.patel@example.org,member,Joined the claims team",  # add
        "mo,steward,",  # change: member -> steward
        "lena.lind@example.org,member,",  # add again (had left)
        "steward,steward,",  # unchanged
        "spencer.sponsor@example.org,sponsor,",  # unchanged
    )

    pending = pending_from(upload(client, open_kc, text, name="spring.csv"))
    assert pending.totals["error"] == 0
    changes = [row for row in preview_table(client.get(preview_url(pending))) if row["line"] == "3"]
    assert changes[0]["action"] == "Change role"
    assert changes[0]["details"] == "Member → Steward"

    client.post(preview_url(pending))

    events = MembershipEvent.objects.filter(community=open_kc).order_by("target_name")
    assert MembershipEvent.objects.count() == events_before + 3
    assert [
        (
            e.target_name,
            e.action,
            e.state_before,
            e.state_after,
            e.role_before,
            e.role_after,
            e.actor,
            e.actor_name,
            e.note,
        )
        for e in events
    ] == [
        (
            "Lena Lind",
            Action.ADDED,
            State.LEFT,
            State.ACTIVE,
            Role.MEMBER,
            Role.MEMBER,
            actor_of(steward),
            "Stella Steward",
            "Imported from spring.csv",
        ),
        (
            "Mo Member",
            Action.ROLE_CHANGED,
            State.ACTIVE,
            State.ACTIVE,
            Role.MEMBER,
            Role.STEWARD,
            actor_of(steward),
            "Stella Steward",
            "Imported from spring.csv",
        ),
        (
            "Priya Patel",
            Action.ADDED,
            "",
            State.ACTIVE,
            "",
            Role.MEMBER,
            actor_of(steward),
            "Stella Steward",
            "Imported from spring.csv: Joined the claims team",
        ),
    ]
    former.refresh_from_db()
    assert (former.state, former.decided_by) == (State.ACTIVE, actor_of(steward))
    assert Membership.objects.filter(community=open_kc, member=people.lena).count() == 1


def test_nothing_applies_if_someone_joined_between_preview_and_confirm(
    client, steward, open_kc, people
):
    client.force_login(steward)
    pending = pending_from(upload(client, open_kc, csv_text("priya.patel@example.org,member,")))
    services.join_community(community=open_kc, member=people.omar)
    before = snapshot()

    response = client.post(preview_url(pending), follow=True)

    assert response.redirect_chain == [(url("roster_import", open_kc.slug), 302)]
    assert alerts(response) == [
        "The membership list changed since this preview, so nothing was applied. "
        "Upload the file again to see a fresh preview."
    ]
    assert snapshot() == before
    assert not Membership.objects.filter(member=people.priya).exists()


def test_service_refuses_a_stale_preview_after_a_role_change(
    steward, open_kc, plain_member, people
):
    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor_of(steward),
        file_name="r.csv",
        text=csv_text("priya.patel@example.org,member,"),
        remove_absent=False,
    )
    services.change_role(
        community=open_kc, membership=plain_member, actor=actor_of(steward), role=Role.STEWARD
    )
    before = snapshot()

    with pytest.raises(services.MembershipError, match="changed since this preview"):
        services.apply_roster_import(roster_import=pending, actor=actor_of(steward))
    assert snapshot() == before


@pytest.mark.parametrize("remove_absent", [True, False])
def test_remove_absent_removes_only_active_members_missing_from_the_file(
    client, steward, open_kc, plain_member, people, remove_absent
):
    waiting = MembershipFactory(community=open_kc, member=people.omar, state=State.REQUESTED)
    client.force_login(steward)
    text = csv_text(
        "spencer.sponsor@example.org,sponsor,",
        "steward,steward,",
        "priya.patel@example.org,member,",
    )

    pending = pending_from(upload(client, open_kc, text, remove_absent=remove_absent))
    preview = client.get(preview_url(pending))
    client.post(preview_url(pending))

    plain_member.refresh_from_db()
    waiting.refresh_from_db()
    assert waiting.state == State.REQUESTED, "only active members are removed"
    removed_rows = [row for row in preview_table(preview) if row["action"] == "Remove"]
    if remove_absent:
        assert pending.remove_absent
        assert removed_rows == [
            {
                "line": "—",
                "key": "mo",
                "person": "Mo Member",
                "action": "Remove",
                "role": "member",
                "details": "Not in the file.",
            }
        ]
        assert plain_member.state == State.REMOVED
        event = MembershipEvent.objects.get(target=plain_member.member)
        assert (event.action, event.state_before, event.state_after, event.note) == (
            Action.REMOVED,
            State.ACTIVE,
            State.REMOVED,
            "Imported from roster.csv",
        )
    else:
        assert removed_rows == []
        assert plain_member.state == State.ACTIVE
        assert not MembershipEvent.objects.filter(target=plain_member.member).exists()
    assert roster_of(open_kc)["Priya Patel"] == Role.MEMBER


@pytest.mark.parametrize(
    "lines, remove_absent, problem",
    [
        (
            ["steward,member,"],
            False,
            "This import would leave the community with no steward; keep at least one.",
        ),
        (
            ["spencer.sponsor@example.org,sponsor,", "priya.patel@example.org,member,"],
            True,
            "This import would leave the community with no steward; keep at least one.",
        ),
        (
            ["priya.patel@example.org,sponsor,"],
            False,
            "A knowledge community has one sponsor; this import would leave 2. Make the "
            "current sponsor a member in the file, or name no new sponsor.",
        ),
    ],
    ids=["steward demoted", "steward absent and removed", "second sponsor"],
)
def test_file_that_breaks_a_community_rule_shows_the_problem_and_cannot_be_confirmed(
    client, steward, open_kc, people, lines, remove_absent, problem
):
    client.force_login(steward)
    before = snapshot()
    pending = pending_from(upload(client, open_kc, csv_text(*lines), remove_absent=remove_absent))

    preview = client.get(preview_url(pending))

    assert problem in alerts(preview)
    assert not has_confirm_button(preview)
    assert "Nothing to apply." in page_text(preview)

    response = client.post(preview_url(pending), follow=True)

    assert alerts(response) == [problem]
    assert snapshot()[:2] == before[:2]
    pending.refresh_from_db()
    assert pending.applied_at is None


@pytest.mark.parametrize(
    "lines, remove_absent",
    [
        (["spencer.sponsor@example.org,member,", "priya.patel@example.org,sponsor,"], False),
        (["priya.patel@example.org,sponsor,", "spencer.sponsor@example.org,member,"], False),
        (["priya.patel@example.org,sponsor,", "steward,steward,"], True),
    ],
    ids=["old sponsor first", "new sponsor first", "old sponsor removed as absent"],
)
def test_new_sponsor_replaces_the_old_one_in_one_file(
    steward, open_kc, people, lines, remove_absent
):
    """On PostgreSQL the one-active-sponsor partial unique index is checked row by row:
    run with DATABASE_URL to prove the old sponsor steps down before the new one rises."""
    old_sponsor = sponsor_of(open_kc)
    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor_of(steward),
        file_name="sponsor.csv",
        text=csv_text(*lines),
        remove_absent=remove_absent,
    )

    services.apply_roster_import(roster_import=pending, actor=actor_of(steward))

    assert sponsor_of(open_kc).member == people.priya
    old_sponsor.refresh_from_db()
    expected_old = (State.REMOVED, Role.SPONSOR) if remove_absent else (State.ACTIVE, Role.MEMBER)
    assert (old_sponsor.state, old_sponsor.role) == expected_old
    assert MembershipEvent.objects.filter(community=open_kc).count() == 2


def test_existing_member_promoted_to_sponsor_while_the_old_one_is_demoted(
    steward, open_kc, plain_member
):
    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor_of(steward),
        file_name="swap.csv",
        text=csv_text("mo,sponsor,", "spencer.sponsor,member,"),
        remove_absent=False,
    )

    services.apply_roster_import(roster_import=pending, actor=actor_of(steward))

    assert roster_of(open_kc) == {
        "Mo Member": Role.SPONSOR,
        "Spencer Sponsor": Role.MEMBER,
        "Stella Steward": Role.STEWARD,
    }


def test_import_adds_no_one_to_an_archived_community(steward, open_kc, people):
    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor_of(steward),
        file_name="r.csv",
        text=csv_text("priya.patel@example.org,member,"),
        remove_absent=False,
    )
    Community.objects.filter(pk=open_kc.pk).update(status=Community.Status.ARCHIVED)

    with pytest.raises(services.MembershipError, match="archived"):
        services.apply_roster_import(roster_import=pending, actor=actor_of(steward))
    assert not Membership.objects.filter(member=people.priya).exists()
    pending.refresh_from_db()
    assert pending.applied_at is None


# -- planned once: the upload stores the plan, the preview pages it, apply applies it ------


def store_plan(community, actor, lines, **kwargs) -> RosterImport:
    return services.preview_roster_import(
        community=community,
        actor=actor,
        file_name=kwargs.pop("file_name", "r.csv"),
        text=csv_text(*lines),
        remove_absent=kwargs.pop("remove_absent", False),
        mode=kwargs.pop("mode", ALL_OR_NOTHING),
    )


@pytest.fixture
def no_reading_or_planning(monkeypatch):
    """Fails a test that reads, decodes or plans a CSV, or fingerprints the roster."""

    def refuse(*args, **kwargs):
        raise AssertionError("the stored plan must be read, not the file planned again")

    for name in ("plan_import", "read_rows", "decode_upload", "roster_fingerprint"):
        monkeypatch.setattr(roster_upload, name, refuse)


def test_preview_pages_the_stored_plan_and_never_reads_or_plans_the_file_again(
    client, steward, open_kc, people, request
):
    unknown = [f"nobody{i:03d}@example.org,member," for i in range(250)]
    client.force_login(steward)
    pending = pending_from(
        upload(
            client,
            open_kc,
            csv_text("steward,steward,", *unknown, "priya.patel,member,hi"),
            mode=VALID_ROWS,
        )
    )
    request.getfixturevalue("no_reading_or_planning")

    first = client.get(preview_url(pending))
    second = client.get(preview_url(pending), {"page": 2})

    assert first.status_code == second.status_code == 200
    rows = preview_table(first) + preview_table(second)
    # The errors first, then what does something (file order), then the unchanged rows.
    assert [row["line"] for row in rows] == [str(line) for line in range(3, 254)] + ["2"]
    assert rows[250] == {
        "line": "253",
        "key": "priya.patel",
        "person": "Priya Patel",
        "action": "Add",
        "role": "member",
        "details": "",
    }
    assert (rows[-1]["person"], rows[-1]["action"]) == ("Stella Steward", "Unchanged")
    assert len(preview_table(first)) == 200
    assert "add: 1" in page_text(first) and "errors: 250" in page_text(first)
    assert has_confirm_button(first) and has_confirm_button(second)


@pytest.mark.parametrize("page", ["0", "-1", "x", "999"])
def test_preview_pages_out_of_range_show_the_first_or_the_last_page(
    client, steward, open_kc, people, page
):
    lines = [f"nobody{i:03d}@example.org,member," for i in range(250)]
    pending = store_plan(open_kc, actor_of(steward), lines)
    client.force_login(steward)

    shown = preview_table(client.get(preview_url(pending), {"page": page}))

    last = page != "x"  # Django's get_page: a number out of range is the last page
    assert [row["line"] for row in shown][:1] == (["202"] if last else ["2"])
    assert len(shown) == (50 if last else 200)


def _plan_of(steward, open_kc, rows: int, mode=ALL_OR_NOTHING) -> RosterImport:
    """Three people to add and ``rows`` - 3 rows with errors."""
    people = [
        MemberFactory(user__username=f"budget{rows}-{i}", display_name=f"Budget {rows} {i}")
        for i in range(3)
    ]
    lines = [f"{p.user.username},member," for p in people]
    lines += [f"nobody{i:05d},member," for i in range(rows - len(lines))]
    return store_plan(open_kc, actor_of(steward), lines, mode=mode)


# The user with their member, the directory-admin check and the navbar's waiting count
# (every page), the community and the import (access), and one page of the plan's rows
# with their people: the same for 10 rows as for 5,000, on the first page or the last.
PREVIEW_QUERY_BUDGET = 6


@pytest.mark.parametrize("mode", [ALL_OR_NOTHING, VALID_ROWS])
def test_preview_page_costs_the_same_queries_for_a_small_and_a_large_plan_and_a_deep_page(
    client, steward, open_kc, django_assert_max_num_queries, mode
):
    small = _plan_of(steward, open_kc, 10, mode)
    large = _plan_of(steward, open_kc, 5_000, mode)
    client.force_login(steward)
    client.get(preview_url(small))  # warm the session and the caches

    counts = {}
    for name, pending, page in [("small", small, 1), ("large", large, 1), ("deep", large, 25)]:
        with django_assert_max_num_queries(PREVIEW_QUERY_BUDGET) as queries:
            response = client.get(preview_url(pending), {"page": page})
        counts[name] = len(queries.captured_queries)
        assert len(preview_table(response)) == (10 if name == "small" else 200)

        assert has_confirm_button(response) is (mode == VALID_ROWS)
        assert confirm_is_blocked(response) is (mode == ALL_OR_NOTHING)

    assert counts["small"] == counts["large"] == counts["deep"], counts
    reads = [
        q["sql"].upper() for q in queries.captured_queries if "ROSTERIMPORTROW" in q["sql"].upper()
    ]
    assert len(reads) == 1, "the deep page is one read of its rows"
    assert "OFFSET" not in reads[0] and "COUNT(" not in reads[0]


def test_the_stored_plan_keeps_every_cell_exactly_tabs_backslashes_and_line_breaks_too(
    steward, open_kc, people
):
    text = (
        "email,role,note\n"
        'priya.patel,member,"tab\there \\N back\\slash\r\nnew line"\n'
        '"no\tone\\N",member,\n'
        '"\\N",member,\n'
        'omar.okafor,"boss\\\tman",\n'
    )
    planned = roster_upload.plan_import(open_kc, text)

    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor_of(steward),
        file_name="r.csv",
        text=text,
        remove_absent=False,
    )

    stored = list(
        pending.rows.order_by("line").values_list(
            "line", "key", "action", "role", "note", "message", "member"
        )
    )
    assert stored == [
        (
            row.line,
            row.key,
            row.action,
            row.role,
            row.note,
            row.message,
            row.member.pk if row.member else None,
        )
        for row in sorted(planned.rows, key=lambda row: row.line)
    ]
    assert stored[0][4] == "tab\there \\N back\\slash\r\nnew line"
    assert stored[1][1] == "no\tone\\n" and stored[2][1] == "\\n"
    assert stored[3][5] == "Unknown role “boss\\\tman”: use member, sponsor, steward."


def test_the_plan_fingerprint_is_the_roster_it_was_computed_against(open_kc, plain_member):
    plan = roster_upload.plan_import(open_kc, csv_text("mo,steward,"))

    assert plan.fingerprint == roster_upload.roster_fingerprint(open_kc)


def test_apply_applies_the_stored_plan_not_the_file_read_again(steward, open_kc, people):
    pending = store_plan(open_kc, actor_of(steward), ["priya.patel@example.org,member,"])
    # Afterwards the address names someone else: reading the file again would add Omar.
    get_user_model().objects.filter(pk=people.priya.user_id).update(email="priya@elsewhere.org")
    get_user_model().objects.filter(pk=people.omar.user_id).update(email="priya.patel@example.org")

    totals = services.apply_roster_import(roster_import=pending, actor=actor_of(steward))

    assert totals["add"] == 1
    assert "Priya Patel" in roster_of(open_kc) and "Omar Okafor" not in roster_of(open_kc)


def test_apply_refuses_when_someone_it_adds_has_left_the_directory_since_the_preview(
    client, steward, open_kc, people
):
    client.force_login(steward)
    pending = pending_from(
        upload(client, open_kc, csv_text("priya.patel@example.org,member,", "omar.okafor,member,"))
    )
    get_user_model().objects.filter(pk=people.omar.user_id).update(is_active=False)
    before = snapshot()

    response = client.post(preview_url(pending), follow=True)

    assert alerts(response) == [
        "1 person in this import has left the directory since the preview, so nothing "
        "was applied. Upload the file again to see a fresh preview."
    ]
    assert snapshot() == before
    assert pending.rows.count() == 2, "the plan stays until it is applied or stale"


def test_apply_checks_the_community_rules_again_and_does_not_trust_the_stored_verdict(
    steward, open_kc, people
):
    pending = store_plan(open_kc, actor_of(steward), ["priya.patel,member,", "steward,steward,"])
    assert pending.problems == [] and pending.can_apply
    # The stored plan now demotes the only steward; its stored verdict still says fine.
    pending.rows.filter(key="steward").update(action="change", role=Role.MEMBER)
    before = snapshot()

    with pytest.raises(services.MembershipError, match="no steward"):
        services.apply_roster_import(roster_import=pending, actor=actor_of(steward))

    assert snapshot() == before
    assert roster_of(open_kc)["Stella Steward"] == Role.STEWARD


@pytest.mark.parametrize("mode", [ALL_OR_NOTHING, VALID_ROWS])
def test_a_failure_while_applying_leaves_the_roster_and_the_plan_as_they_were(
    steward, open_kc, people, monkeypatch, mode
):
    lines = ["priya.patel,member,", "omar.okafor,steward,"]
    if mode == VALID_ROWS:
        lines.append("ghost,member,")
    pending = store_plan(open_kc, actor_of(steward), lines, mode=mode)
    before = snapshot()

    insert_rows = bulk._insert_rows

    def fail_on_the_events(model, *args):
        if model is MembershipEvent:  # after the memberships were written
            raise DatabaseError("disk full")
        insert_rows(model, *args)

    monkeypatch.setattr(bulk, "_insert_rows", fail_on_the_events)
    with pytest.raises(DatabaseError, match="disk full"):
        services.apply_roster_import(roster_import=pending, actor=actor_of(steward))

    assert snapshot() == before
    assert pending.rows.count() == len(lines)


def test_applying_deletes_the_plan_and_keeps_the_record_that_it_was_applied(
    client, steward, open_kc, people
):
    client.force_login(steward)
    pending = pending_from(upload(client, open_kc, csv_text("priya.patel,member,")))

    client.post(preview_url(pending))

    pending.refresh_from_db()
    assert pending.applied_at is not None
    assert not RosterImportRow.objects.exists()
    again = client.get(preview_url(pending))
    assert "This import was already applied." in alerts(again)
    assert "add: 1" in page_text(again)
    assert "<tbody>" not in again.content.decode()


# -- the row cap ------------------------------------------------------------------------


@override_settings(ROSTER_IMPORT_MAX_ROWS=1000)
def test_a_file_over_the_row_cap_is_refused_at_upload_with_its_count(client, steward, open_kc):
    client.force_login(steward)
    before = snapshot()

    response = upload(client, open_kc, csv_text(*[f"person{i},member," for i in range(1234)]))

    message = (
        "The file has 1,234 rows; the most one import takes is 1,000. Split it into smaller files."
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [message]
    assert message in page_text(response)
    assert snapshot() == before and not RosterImportRow.objects.exists()


@override_settings(ROSTER_IMPORT_MAX_ROWS=3)
def test_a_file_at_the_row_cap_is_planned_and_the_form_names_the_cap(client, steward, open_kc):
    client.force_login(steward)

    form = client.get(url("roster_import", open_kc.slug))
    pending = pending_from(
        upload(
            client,
            open_kc,
            csv_text(
                "a,member,",
                "b,member,",
                "",
            ),
        )
    )

    assert "UTF-8, at most 5 MB and 3 rows." in page_text(form)
    assert pending.row_count == 3 and pending.totals["error"] == 3


def test_the_row_cap_comes_from_the_environment():
    def cap(**env) -> int:
        unset = {k: v for k, v in os.environ.items() if k != "KCDIR_ROSTER_IMPORT_MAX_ROWS"}
        completed = subprocess.run(  # noqa: S603 (our own interpreter and settings)
            [sys.executable, "-c", "import kcdir.settings as s; print(s.ROSTER_IMPORT_MAX_ROWS)"],
            env={**unset, "SECRET_KEY": "kcdir-tests-only", "DEBUG": "0", **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return int(completed.stdout.strip())

    assert cap() == 50_000
    assert cap(KCDIR_ROSTER_IMPORT_MAX_ROWS="1234") == 1234


# -- stale imports ----------------------------------------------------------------------


def _age(pending: RosterImport, hours: float) -> None:
    RosterImport.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=hours)
    )


def test_clear_stale_imports_deletes_imports_and_plans_older_than_a_day(
    steward, open_kc, request_kc, people
):
    actor = actor_of(steward)
    old = store_plan(open_kc, actor, ["priya.patel,member,", "nobody,member,"])
    old_applied = store_plan(open_kc, actor, ["omar.okafor,member,"])
    services.apply_roster_import(roster_import=old_applied, actor=actor)
    elsewhere = store_plan(request_kc, actor, ["lena.lind,member,"])
    fresh = store_plan(open_kc, actor, ["lena.lind,member,"])
    _age(old, 25)
    _age(old_applied, 30)
    _age(elsewhere, 24.1)
    _age(fresh, 23)

    out, err = run("clear_stale_imports")

    assert out.strip() == "Deleted 3 roster imports older than 24 hours (3 planned rows)."
    assert err.splitlines() == ["  3 of 3 imports deleted"]
    assert list(RosterImport.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert list(RosterImportRow.objects.values_list("roster_import", flat=True)) == [fresh.pk]

    out, err = run("clear_stale_imports", "--hours", "1", "--batch", "1")
    assert out.strip() == "Deleted 1 roster imports older than 1 hours (1 planned rows)."
    assert err.splitlines() == ["  1 of 1 imports deleted"]
    assert not RosterImportRow.objects.exists()


def test_an_upload_deletes_everyones_stale_imports_in_passing(
    client, steward, open_kc, request_kc, people
):
    rex = request_kc.memberships.get(role=Role.STEWARD).member
    stale = store_plan(request_kc, rex, ["priya.patel,member,"])
    waiting = store_plan(request_kc, rex, ["omar.okafor,member,"])
    _age(stale, 25)
    _age(waiting, 2)
    client.force_login(steward)

    pending = pending_from(upload(client, open_kc, csv_text("lena.lind,member,")))

    assert set(RosterImport.objects.values_list("pk", flat=True)) == {waiting.pk, pending.pk}
    assert not RosterImportRow.objects.filter(roster_import_id=stale.pk).exists()


# -- round trip -------------------------------------------------------------------------


@pytest.fixture
def awkward_roster(open_kc):
    """Members whose cells need quoting or formula-neutralising."""
    risky = DepartmentFactory(name='=HYPERLINK("http://evil")', slug="evil")
    for name, username, email in [
        ("=SUM(A1:A9)", "eq", "eq@example.org"),
        ('Quinn "Q" O\'Neil, Jr.', "quinn", "quinn@example.org"),
        ("Line\nBreak", "linebreak", "linebreak@example.org"),
        ("+Plus", "+plus", ""),  # no email: the username identifies them
        ("-Minus", "-minus", "-minus@example.org"),
    ]:
        MembershipFactory(
            community=open_kc,
            member=MemberFactory(
                display_name=name,
                user__username=username,
                user__email=email,
                department=risky,
            ),
        )
    MembershipFactory(community=open_kc, member=member_named("Ivy Invited"), state=State.INVITED)
    MembershipFactory(community=open_kc, member=member_named("Lou Left"), state=State.LEFT)
    return open_kc


@pytest.mark.parametrize("everyone", [False, True], ids=["active", "all states"])
def test_exported_roster_imports_with_every_row_unchanged(
    client, steward, awkward_roster, everyone
):
    client.force_login(steward)
    exported = streamed_bytes(
        client.get(url("roster_export", awkward_roster.slug), {"all": "1"} if everyone else {})
    )
    before = snapshot()

    pending = pending_from(
        upload(client, awkward_roster, exported, name="claims-turnaround-roster.csv")
    )
    preview = client.get(preview_url(pending))

    actions = dict(pending.rows.values_list("key", "action"))
    assert set(actions.values()) == ({"unchanged", "skip"} if everyone else {"unchanged"})
    assert sum(1 for action in actions.values() if action == "unchanged") == 7
    assert "+plus" in actions and "-minus@example.org" in actions
    assert pending.change_count == 0 and pending.problems == []
    assert not has_confirm_button(preview)
    assert "Nothing to apply." in page_text(preview)

    client.post(preview_url(pending))
    assert snapshot()[:2] == before[:2]


def test_exported_roster_of_a_cop_imports_unchanged(client, directory_admin, cop):
    MembershipFactory(community=cop, member=member_named("Pat Practitioner"), role=Role.PARTICIPANT)
    client.force_login(directory_admin)
    exported = streamed_bytes(client.get(url("roster_export", cop.slug)))

    plan = roster_upload.plan_import(cop, exported.decode("utf-8-sig"), remove_absent=True)

    assert [row.action for row in plan.rows] == ["unchanged", "unchanged"]
    assert plan.changes == []


def test_ten_thousand_row_file_previews_and_applies(client, steward, open_kc):
    count = 10_000
    User = get_user_model()
    users = User.objects.bulk_create(
        User(username=f"bulk{i:05d}", email=f"bulk{i:05d}@example.org", password="!")
        for i in range(count)
    )
    if users[0].pk is None:  # a backend without RETURNING
        users = list(User.objects.filter(username__startswith="bulk").order_by("username"))
    Member.objects.bulk_create(
        Member(user=user, display_name=f"Bulk Person {i:05d}") for i, user in enumerate(users)
    )
    active_before = open_kc.memberships.filter(state=State.ACTIVE).count()
    text = "email,role\n" + "".join(f"bulk{i:05d}@example.org,member\n" for i in range(count))
    client.force_login(steward)

    pending = pending_from(upload(client, open_kc, text, name="everyone.csv"))
    preview = client.get(preview_url(pending))

    assert preview.status_code == 200
    assert preview.context["pending"].totals["add"] == count
    assert len(preview_table(preview)) == 200, "one page of the stored plan"
    assert has_confirm_button(preview)

    started = time.perf_counter()
    response = client.post(preview_url(pending))
    elapsed = time.perf_counter() - started
    print(f"\n10,000-row roster import: confirm (apply) took {elapsed:.2f} s")

    assert response.status_code == 302
    assert open_kc.memberships.filter(state=State.ACTIVE).count() == active_before + count
    assert MembershipEvent.objects.filter(community=open_kc, action=Action.ADDED).count() == count


def test_an_import_stores_new_memberships_whole_and_a_removal_keeps_the_role(
    steward, open_kc, plain_member, people
):
    actor = actor_of(steward)
    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor,
        file_name="r.csv",
        text=csv_text(
            "priya.patel,steward,Leads the pilot",
            "omar.okafor,,",  # a blank role: a member of a KC
            "steward,steward,",
            "spencer.sponsor,sponsor,",
        ),
        remove_absent=True,
    )

    totals = services.apply_roster_import(roster_import=pending, actor=actor)

    assert (totals["add"], totals["remove"], totals["unchanged"]) == (2, 1, 2)
    priya = Membership.objects.get(community=open_kc, member=people.priya)
    omar = Membership.objects.get(community=open_kc, member=people.omar)
    added = MembershipEvent.objects.get(target=people.priya)
    assert (priya.state, priya.role, priya.decided_by, priya.note) == (
        State.ACTIVE,
        Role.STEWARD,
        actor,
        "Imported from r.csv: Leads the pilot",
    )
    assert priya.created_at == priya.decided_at == added.created_at <= priya.updated_at
    assert (omar.state, omar.role, omar.note) == (State.ACTIVE, Role.MEMBER, "Imported from r.csv")
    plain_member.refresh_from_db()
    removed = MembershipEvent.objects.get(target=plain_member.member)
    assert plain_member.state == State.REMOVED
    assert (
        removed.action,
        removed.state_before,
        removed.state_after,
        removed.role_before,
        removed.role_after,
        removed.actor_name,
    ) == (Action.REMOVED, State.ACTIVE, State.REMOVED, Role.MEMBER, Role.MEMBER, "Stella Steward")
    assert MembershipEvent.objects.filter(community=open_kc).count() == 3


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite writes in batches of its parameter limit"
)
@pytest.mark.parametrize("mode", [ALL_OR_NOTHING, VALID_ROWS])
def test_applying_an_import_runs_as_many_queries_for_500_rows_as_for_50(steward, open_kc, mode):
    User = get_user_model()
    users = User.objects.bulk_create(
        User(username=f"bulk{i:03d}", email=f"bulk{i:03d}@example.org", password="!")
        for i in range(550)
    )
    Member.objects.bulk_create(Member(user=user, display_name=f"Bulk {user.pk}") for user in users)

    def queries_to_apply(names: range) -> int:
        text = "username,role\n" + "".join(f"bulk{i:03d},member\n" for i in names)
        if mode == VALID_ROWS:  # and as many rows with errors, skipped
            text += "".join(f"ghost{i:03d},member\n" for i in names)
        pending = services.preview_roster_import(
            community=open_kc,
            actor=actor_of(steward),
            file_name="b.csv",
            text=text,
            remove_absent=False,
            mode=mode,
        )
        with CaptureQueriesContext(connection) as applying:
            totals = services.apply_roster_import(roster_import=pending, actor=actor_of(steward))
        assert totals["add"] == len(names)
        assert totals["skipped"] == (len(names) if mode == VALID_ROWS else 0)
        return len(applying.captured_queries)

    # 14: two more than before the stored overlaps and counts: the people the import
    # adds join the overlaps, and the community's member count is counted again once.
    # 15: the emails to the people added are written to the outbox, in one INSERT.
    assert queries_to_apply(range(50)) == queries_to_apply(range(50, 550)) <= 15


# -- export -----------------------------------------------------------------------------


FORMULA_NAMES = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTabbed", "\rReturn"]


def test_roster_export_neutralises_formula_cells(client, steward, open_kc):
    for n, name in enumerate(FORMULA_NAMES):
        MembershipFactory(
            community=open_kc,
            member=MemberFactory(
                display_name=name,
                department=DepartmentFactory(name=f"={n}+department", slug=f"d{n}"),
            ),
        )
    client.force_login(steward)

    rows = read_csv(streamed_bytes(client.get(url("roster_export", open_kc.slug))))

    by_name = {row["name"]: row for row in rows}
    for n, name in enumerate(FORMULA_NAMES):
        row = by_name["'" + name]
        assert row["department"] == f"'={n}+department"
    assert by_name["Stella Steward"]["department"].startswith("Department ")
    assert not any(cell.startswith(cells.FORMULA_PREFIXES) for row in rows for cell in row.values())


def test_roster_export_quotes_commas_quotes_and_newlines(client, steward, open_kc):
    names = ['Ana "Annie" Silva', "Ortiz, Bea", "Two\nLines", "Plain Name"]
    for name in names:
        MembershipFactory(community=open_kc, member=MemberFactory(display_name=name))
    client.force_login(steward)

    response = client.get(url("roster_export", open_kc.slug))
    data = streamed_bytes(response)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="claims-turnaround-roster.csv"'
    assert b'"Ana ""Annie"" Silva"' in data
    assert b'"Ortiz, Bea"' in data
    rows = read_csv(data)
    assert list(rows[0]) == exports.ROSTER_HEADER
    assert {row["name"] for row in rows} >= set(names)
    stella = next(row for row in rows if row["name"] == "Stella Steward")
    assert (stella["email"], stella["username"], stella["role"], stella["state"]) == (
        "steward@example.org",
        "steward",
        "steward",
        "active",
    )
    assert stella["joined"] == timezone.now().date().isoformat()


def test_roster_export_lists_active_members_and_all_states_on_request(client, steward, open_kc):
    MembershipFactory(community=open_kc, member=member_named("Ivy Invited"), state=State.INVITED)
    MembershipFactory(community=open_kc, member=member_named("Rhea Req"), state=State.REQUESTED)
    MembershipFactory(community=open_kc, member=member_named("Lou Left"), state=State.LEFT)
    client.force_login(steward)

    active = read_csv(streamed_bytes(client.get(url("roster_export", open_kc.slug))))
    everyone = read_csv(
        streamed_bytes(client.get(url("roster_export", open_kc.slug), {"all": "1"}))
    )

    assert [(r["name"], r["state"]) for r in active] == [
        ("Spencer Sponsor", "active"),
        ("Stella Steward", "active"),
    ]
    assert sorted((r["name"], r["state"]) for r in everyone) == [
        ("Ivy Invited", "invited"),
        ("Lou Left", "left"),
        ("Rhea Req", "requested"),
        ("Spencer Sponsor", "active"),
        ("Stella Steward", "active"),
    ]


@contextmanager
def instances_made(model):
    """A list that grows by one for every ``model`` instance made (Django's ``post_init``
    signal) while the block runs: rows read into objects, without holding them."""
    made = []

    def note(sender, instance, **kwargs):
        made.append(instance.pk)

    post_init.connect(note, sender=model, weak=False)
    try:
        yield made
    finally:
        post_init.disconnect(note, sender=model)


def up_to_first_row(chunks) -> bytes:
    """Read a CSV body's chunks until its first row after the header is complete."""
    body = b""
    while body.count(b"\n") < 2:
        body += next(chunks)
    return body


def test_roster_export_reads_the_roster_as_it_sends_it_row_by_row(client, steward, open_kc):
    for n in range(30):
        MembershipFactory(community=open_kc, member=MemberFactory(display_name=f"Zed {n:02d}"))
    client.force_login(steward)

    with instances_made(Membership) as made, CaptureQueriesContext(connection) as queries:
        response = client.get(url("roster_export", open_kc.slug))
        answered = (len(made), len(queries))
        chunks = iter(response.streaming_content)
        head = up_to_first_row(chunks)
        made_for_first_row = len(made) - answered[0]
        body = head + b"".join(chunks)

    assert isinstance(response, StreamingHttpResponse)
    sent = [q["sql"] for q in queries.captured_queries[answered[1] :]]
    assert len(sent) == 1, "the whole body comes from one query, run once it is read"
    assert "communities_membership" in sent[0]
    assert made_for_first_row <= 1, "rows are written as they are read, one at a time"
    rows = read_csv(body)
    assert len(rows) == 32
    assert rows[0]["name"] == "Spencer Sponsor"


def test_directory_export_sends_its_first_rows_before_reading_every_community(
    client, directory_admin, open_kc, cop
):
    Community.objects.bulk_create(
        CommunityFactory.build(name=f"Community {n:04d}", slug=f"community-{n:04d}")
        for n in range(1200)
    )
    client.force_login(directory_admin)

    with instances_made(Community) as made, CaptureQueriesContext(connection) as queries:
        response = client.get(url("directory_export"))
        answered = (len(made), len(queries))
        chunks = iter(response.streaming_content)
        head = up_to_first_row(chunks)
        made_for_first_row = len(made) - answered[0]
        body = head + b"".join(chunks)

    assert isinstance(response, StreamingHttpResponse)
    sent = [q["sql"] for q in queries.captured_queries[answered[1] :]]
    assert "communities_community" in sent[0], "the communities are read once the body is"
    assert made_for_first_row < 1202, "the first rows go out before every community is read"
    assert len(read_csv(body)) == 1202


def test_directory_export_lists_each_community_with_its_leaders_and_counts(
    client, directory_admin, open_kc, cop
):
    MembershipFactory(community=open_kc, member=member_named("Mo Member"))
    MembershipFactory(community=open_kc, member=member_named("Rhea Req"), state=State.REQUESTED)
    MembershipFactory(community=open_kc, member=member_named("Sid Second"), role=Role.STEWARD)
    MembershipFactory(community=cop, member=member_named("Pat Practitioner"), role="participant")
    Community.objects.create(
        name="=Proposed idea", slug="proposed", kind="kc", status=Community.Status.PROPOSED
    )
    Community.objects.create(
        name="@Old archive", slug="old", kind="cop", status=Community.Status.ARCHIVED
    )
    client.force_login(directory_admin)

    response = client.get(url("directory_export"))
    rows = read_csv(streamed_bytes(response))

    assert response["Content-Disposition"] == 'attachment; filename="kcdir-directory.csv"'
    assert list(rows[0]) == exports.DIRECTORY_HEADER
    assert [row["name"] for row in rows] == ["'@Old archive", "Claims Turnaround", "SQL Clinic"]
    claims, sql = rows[1], rows[2]
    assert claims == {
        "name": "Claims Turnaround",
        "slug": "claims-turnaround",
        "kind": "kc",
        "status": "active",
        "stage": "community",
        "join_policy": "open",
        "purposes": "Cut claim turnaround to two days",
        "sponsor": "Spencer Sponsor",
        "stewards": "Sid Second; Stella Steward",
        "member_count": "4",
    }
    assert sql == {
        "name": "SQL Clinic",
        "slug": "sql-clinic",
        "kind": "cop",
        "status": "active",
        "stage": "cooperation",
        "join_policy": "",
        "purposes": "",
        "sponsor": "",
        "stewards": "Cora Coordinator",
        "member_count": "2",
    }
    assert rows[0]["member_count"] == "0"


@pytest.mark.parametrize("who", ["anonymous", "staff", "steward", "directory_admin"])
def test_directory_export_is_for_directory_admins_only(client, request, open_kc, who):
    path = url("directory_export")
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))

    response = client.get(path)

    if who == "anonymous":
        assert_sent_to_sign_in(response, path)
    elif who == "directory_admin":
        assert response.status_code == 200
        assert read_csv(streamed_bytes(response))[0]["name"] == "Claims Turnaround"
    else:
        assert response.status_code == 403


# -- export: COPY on PostgreSQL, csv.writer elsewhere, the same bytes ------------------

needs_copy = pytest.mark.skipif(
    not pg_copy.available(), reason="COPY exports need PostgreSQL (psycopg2)"
)


def excel_csv(header: list[str], rows: list[tuple]) -> bytes:
    """What an export must be, written independently of kcdir: a BOM, then Python's csv
    module (excel dialect: minimal quoting, CRLF), every cell starting with = + - @ tab
    or CR given a leading apostrophe."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["'" + cell if cell and cell[0] in "=+-@\t\r" else cell for cell in row])
    return ("\ufeff" + out.getvalue()).encode()


def at(*parts) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=datetime.UTC)


@pytest.fixture
def tricky(db):
    """A community whose memberships (in id order, every state) have cells that need
    quoting, neutralising, or care with line breaks, non-ASCII text and dates; ``rows``
    are their roster cells as an export must show them before the formula guard."""
    core = DepartmentFactory(name='Claims, "Core"', slug="claims-core")
    formula = DepartmentFactory(name="=HYPERLINK(1)", slug="formula")
    decider = MemberFactory(display_name="@Dee Cider", user__username="dee")
    community = CommunityFactory(name="Tricky", slug="tricky")
    rows = []

    def person(
        name,
        username,
        *,
        email=None,
        department=core,
        role="member",
        state="active",
        created=None,
        decided_by=None,
    ):
        created = created or at(2024, 1, 1)
        email = f"{username}@example.org" if email is None else email
        member = MemberFactory(
            display_name=name, user__username=username, user__email=email, department=department
        )
        # "joined" is when they became active (here the row's start): never, for some.
        joined = created if state in ("active", "left", "removed") else None
        MembershipFactory(
            community=community,
            member=member,
            role=role,
            state=state,
            created_at=created,
            active_since=joined,
            decided_by=decided_by,
        )
        department_name = department.name if department else ""
        decider_name = decided_by.display_name if decided_by else ""
        day = joined.date().isoformat() if joined else ""
        rows.append((name, email, username, department_name, role, state, day, decider_name))

    person('Ana "Annie" Silva', "ana", created=at(2024, 2, 29, 23, 30))
    person(
        "=1+2",
        "-minus",
        email="",
        department=None,
        role="steward",
        created=at(2024, 3, 1, 0, 10),
        decided_by=decider,
    )
    person(
        "Two\nLines\r\nThree",
        "zoe",
        email="zoë@example.org",
        department=formula,
        state="left",
        created=at(2024, 3, 1, 12),
        decided_by=decider,
    )
    person(
        "Zoë Ñúñez 王芳 🙂",
        "plus",
        email="+plus@example.org",
        state="invited",
        created=at(2023, 12, 31, 23, 59),
    )
    person("\tTabbed", "tab", department=None, state="requested")
    person("\rReturn", "cr", state="removed", decided_by=decider)
    person("Lone\rCR, and a comma", "lone", state="denied")
    person("-2+3", "neg", department=formula)
    person("+cmd|' /C calc'!A0", "cmd")
    person("@SUM(A1)", "sum")
    person("\\.", "dot")
    person("Back\\slash; semi", "back")
    person("'=already quoted", "quoted")
    person(" Leading, trailing ", "spaces")
    person("-", "dash")
    person('"', "quote")
    return SimpleNamespace(community=community, rows=rows)


@pytest.fixture
def tricky_directory(tricky, open_kc, cop):
    """Communities whose directory cells need the same care, besides ``tricky`` (no
    leaders, no purposes), ``open_kc`` and ``cop``."""
    kc = CommunityFactory(
        name='=Formula, "KC"',
        slug="formula-kc",
        join_policy=Community.JoinPolicy.INVITE,
        purposes=[
            PurposeFactory(statement='Zeta, "quoted" purpose', slug="zeta"),
            PurposeFactory(statement="Line\nbreak purpose", slug="line"),
            PurposeFactory(statement="@at purpose", slug="at"),
        ],
    )
    for name, role, state in [
        ("-Minus Sponsor", Role.SPONSOR, State.ACTIVE),
        ("Ste, Ward", Role.STEWARD, State.ACTIVE),
        ('Ste "W"', Role.STEWARD, State.ACTIVE),
        ("Zoë Steward", Role.STEWARD, State.ACTIVE),
        ("Gone Steward", Role.STEWARD, State.LEFT),
        ("Plain Member", Role.MEMBER, State.ACTIVE),
    ]:
        MembershipFactory(community=kc, member=member_named(name), role=role, state=state)
    CommunityFactory(name="+Archived CoP", slug="archived", kind="cop", status="archived")
    CommunityFactory(name="Proposed", slug="proposed", status=Community.Status.PROPOSED)
    return kc


def test_membership_export_writes_exactly_the_csv_module_s_bytes(tricky, settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # "joined" is the UTC date, wherever kcdir runs

    data = b"".join(exports.export_memberships())

    assert data == excel_csv(exports.MEMBERSHIPS_HEADER, [("tricky", *row) for row in tricky.rows])
    assert data.startswith(
        b"\xef\xbb\xbfcommunity,name,email,username,department,role,state,joined,decided_by\r\n"
        b'tricky,"Ana ""Annie"" Silva",ana@example.org,ana,"Claims, ""Core""",member,active,'
        b"2024-02-29,\r\n"
        b"tricky,'=1+2,,'-minus,,steward,active,2024-03-01,'@Dee Cider\r\n"
        b'tricky,"Two\nLines\r\nThree",zo\xc3\xab@example.org,zoe,\'=HYPERLINK(1),member,left,'
    )
    assert b"\r\ntricky,\\.,dot@example.org," in data
    assert b'\r\ntricky,"""",quote@example.org,' in data
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [row[1] for row in parsed[1:]] == [cells.safe_cell(row[0]) for row in tricky.rows]


def test_roster_and_directory_exports_show_exactly_these_cells(tricky_directory, tricky):
    roster = read_csv(
        b"".join(exports.export_roster(tricky.community, states=Membership.State.values))
    )
    assert sorted(tuple(row.values()) for row in roster) == sorted(
        tuple(cells.safe_cell(cell) for cell in row) for row in tricky.rows
    )

    directory = {row["slug"]: row for row in read_csv(b"".join(exports.export_directory()))}

    assert set(directory) == {"tricky", "formula-kc", "claims-turnaround", "sql-clinic", "archived"}
    assert directory["formula-kc"] == {
        "name": '\'=Formula, "KC"',
        "slug": "formula-kc",
        "kind": "kc",
        "status": "active",
        "stage": "sharing",
        "join_policy": "invite",
        "purposes": '\'@at purpose; Line\nbreak purpose; Zeta, "quoted" purpose',
        "sponsor": "'-Minus Sponsor",
        "stewards": 'Ste "W"; Ste, Ward; Zoë Steward',
        "member_count": "5",
    }
    assert directory["tricky"]["purposes"] == directory["tricky"]["sponsor"] == ""
    assert directory["tricky"]["member_count"] == str(
        sum(1 for row in tricky.rows if row[5] == State.ACTIVE)
    )
    assert directory["archived"]["name"] == "'+Archived CoP"
    assert directory["archived"]["join_policy"] == ""


@needs_copy
@pytest.mark.parametrize(
    "export",
    [
        "roster",
        "roster, every state",
        "every membership",
        "every active membership",
        "directory",
    ],
)
def test_copy_and_python_exports_are_byte_for_byte_identical(tricky_directory, tricky, export):
    every_state = Membership.State.values
    make = {
        "roster": lambda **way: exports.export_roster(tricky.community, **way),
        "roster, every state": lambda **way: exports.export_roster(
            tricky.community, states=every_state, **way
        ),
        "every membership": lambda **way: exports.export_memberships(**way),
        "every active membership": lambda **way: exports.export_memberships(
            states=[State.ACTIVE], **way
        ),
        "directory": lambda **way: exports.export_directory(**way),
    }[export]

    copied = b"".join(make(use_copy=True))
    written = b"".join(make(use_copy=False))

    assert copied == written
    assert len(read_csv(copied)) >= 5


@needs_copy
def test_the_sql_formula_guard_is_safe_cell(db):
    values = ["plain", "", "=1", "+1", "-1", "@a", "\tx", "\rx", "\nx", " =x", "'=x", "é=", "-"]
    guard = pg_copy.guarded("v", cells.FORMULA_PREFIXES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {guard} FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",  # noqa: S608
            [[*values, None]],
        )
        guarded = [row[0] for row in cursor.fetchall()]

    # NULL for an empty cell: COPY writes NULL as nothing, but '' as "".
    assert guarded == [cells.safe_cell(value) or None for value in [*values, None]]


def test_copy_rows_get_crlf_endings_and_line_breaks_inside_values_stay():
    assert pg_copy.crlf_rows([b"a,b\n", b"c,\n"]) == b"a,b\r\nc,\r\n"
    assert pg_copy.crlf_rows([b'a,"x\ny"\n', b'"\r\n",d\n']) == b'a,"x\ny"\r\n"\r\n",d\r\n'


@needs_copy
def test_copy_streams_in_bounded_chunks_of_whole_rows(tricky):
    query = "SELECT v, n FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n"
    values = ["a,b", "x\ny", "plain"] * 40
    counts = []

    chunks = list(pg_copy.copy_csv(query, [values], on_rows=counts.append, chunk_bytes=64))

    assert len(chunks) > 10 and len(counts) == len(chunks) and sum(counts) == len(values)
    assert all(chunk.endswith(b"\r\n") and len(chunk) < 64 + 20 for chunk in chunks)
    assert [row[0] for row in csv.reader(io.StringIO(b"".join(chunks).decode(), newline=""))] == (
        values
    )


@needs_copy
def test_an_export_stopped_early_drains_its_copy_and_leaves_the_connection_usable(tricky):
    query = "SELECT n, repeat('x', 200) FROM generate_series(1, 50000) AS n"
    chunks = pg_copy.copy_csv(query, chunk_bytes=4096)

    first = next(chunks)
    chunks.close()

    assert first.startswith(b"1,xxx")
    assert not [t for t in threading.enumerate() if t.name == "csv-export-copy"]
    assert Membership.objects.filter(community=tricky.community).count() == len(tricky.rows)


@needs_copy
def test_a_failing_copy_raises_a_django_database_error_and_stops_its_thread(tricky):
    with pytest.raises(DatabaseError, match="division by zero"), transaction.atomic():
        list(pg_copy.copy_csv("SELECT 1 / (n - 2) FROM generate_series(1, 3) AS n"))

    assert not [t for t in threading.enumerate() if t.name == "csv-export-copy"]
    assert Membership.objects.filter(community=tricky.community).count() == len(tricky.rows)


@needs_copy
@pytest.mark.parametrize("which", ["roster", "directory"])
def test_export_views_copy_with_one_query_run_only_once_the_body_is_read(
    client, directory_admin, tricky_directory, which
):
    client.force_login(directory_admin)
    path = url("roster_export", "formula-kc") if which == "roster" else url("directory_export")

    with CaptureQueriesContext(connection) as before_body:
        response = client.get(path, {"all": "1"})
    with CaptureQueriesContext(connection) as body:
        data = streamed_bytes(response)

    assert not [q for q in before_body.captured_queries if q["sql"].startswith("COPY")]
    assert [q["sql"][:6] for q in body.captured_queries] == ["COPY ("]
    assert len(before_body.captured_queries) <= 6
    if which == "roster":
        community = Community.objects.get(slug="formula-kc")
        python = exports.export_roster(community, states=State.values, use_copy=False)
    else:
        python = exports.export_directory(use_copy=False)
    assert data == b"".join(python)


# -- management commands ----------------------------------------------------------------


def run(command, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_export_then_import_commands_round_trip_dry_run_and_apply(
    tmp_path, steward, open_kc, plain_member, people
):
    exported = tmp_path / "claims.csv"

    _out, err = run("export_roster", open_kc.slug, "-o", str(exported))

    assert err.strip() == f"Wrote 3 rows to {exported}."
    rows = read_csv(exported.read_bytes())
    assert [row["name"] for row in rows] == ["Mo Member", "Spencer Sponsor", "Stella Steward"]

    out, _err = run("import_roster", open_kc.slug, str(exported), "--as", "steward")
    assert "Plan for Claims Turnaround: 0 add, 0 change, 3 unchanged" in out
    assert "Dry run: nothing changed." in out

    with exported.open("a", encoding="utf-8", newline="") as stream:
        stream.write("Priya Patel,priya.patel@example.org,priya.patel,,member,active,,\r\n")
    before = snapshot()

    out, _err = run("import_roster", open_kc.slug, str(exported), "--as", "steward")

    assert "line 5: add priya.patel@example.org" in out
    assert "Dry run" in out
    assert snapshot() == before

    out, _err = run("import_roster", open_kc.slug, str(exported), "--as", "steward", "--apply")

    assert "Applied." in out
    assert roster_of(open_kc)["Priya Patel"] == Role.MEMBER
    event = MembershipEvent.objects.get(target=people.priya)
    assert (event.actor, event.note) == (actor_of(steward), "Imported from claims.csv")
    assert RosterImport.objects.get().applied_at is not None


def test_import_command_remove_absent_applies_removals(tmp_path, steward, open_kc, plain_member):
    roster = tmp_path / "r.csv"
    roster.write_text(csv_text("spencer.sponsor,sponsor,", "steward,steward,"), encoding="utf-8")

    out, _err = run(
        "import_roster", open_kc.slug, str(roster), "--as", "steward", "--remove-absent", "--apply"
    )

    assert "line -: remove mo" in out
    plain_member.refresh_from_db()
    assert plain_member.state == State.REMOVED


def test_import_command_refuses_to_apply_a_file_that_breaks_a_rule(tmp_path, steward, open_kc):
    roster = tmp_path / "r.csv"
    roster.write_text(csv_text("steward,member,"), encoding="utf-8")
    before = snapshot()

    with pytest.raises(CommandError, match="Nothing applied"):
        run("import_roster", open_kc.slug, str(roster), "--as", "steward", "--apply")
    assert snapshot() == before


@pytest.mark.parametrize("command", ["export_roster", "import_roster"])
def test_roster_commands_refuse_an_unknown_slug(tmp_path, command):
    roster = tmp_path / "r.csv"
    roster.write_text("email,role\n", encoding="utf-8")
    args = ["no-such-community"] + ([str(roster)] if command == "import_roster" else [])

    with pytest.raises(CommandError, match="No community with the slug 'no-such-community'"):
        run(command, *args)


def test_import_command_refuses_an_unreadable_file(tmp_path, steward, open_kc):
    roster = tmp_path / "r.csv"
    roster.write_bytes("email,role\ncafé,member\n".encode("latin-1"))

    with pytest.raises(CommandError, match="not UTF-8 text"):
        run("import_roster", open_kc.slug, str(roster), "--as", "steward")


def test_export_command_writes_every_membership_of_every_community(tmp_path, tricky, open_kc):
    everything = tmp_path / "everything.csv"

    _out, err = run("export_roster", "--all-communities", "--all", "-o", str(everything))

    data = everything.read_bytes()
    assert data == b"".join(exports.export_memberships())
    rows = read_csv(data)
    assert list(rows[0]) == ["community", *exports.ROSTER_HEADER]
    assert len(rows) == Membership.objects.count() == len(tricky.rows) + 2
    assert [row["community"] for row in rows] == ["tricky"] * len(tricky.rows) + [
        "claims-turnaround"
    ] * 2
    assert err.strip().startswith(f"Wrote {len(rows)} rows to {everything} in ")

    _out, err = run("export_roster", "--all-communities", "-o", str(everything))

    active = read_csv(everything.read_bytes())
    assert {row["state"] for row in active} == {"active"}
    assert len(active) == Membership.objects.filter(state=State.ACTIVE).count()
    assert f"Wrote {len(active)} rows to {everything}" in err


def test_export_command_reports_progress_and_writes_to_standard_output(
    tricky, monkeypatch, capsysbinary
):
    from communities.management.commands import export_roster

    monkeypatch.setattr(export_roster, "PROGRESS_SECONDS", 0)
    err = io.StringIO()

    call_command("export_roster", "--all-communities", "--all", stderr=err)

    assert capsysbinary.readouterr().out == b"".join(exports.export_memberships())
    lines = err.getvalue().splitlines()
    assert lines[-1].startswith(f"Wrote {len(tricky.rows)} rows to standard output in ")
    assert lines[-2].startswith(f"{len(tricky.rows)} rows (")


@pytest.mark.parametrize("args", [[], ["claims-turnaround", "--all-communities"]])
def test_export_command_wants_one_community_or_all_of_them(open_kc, args):
    with pytest.raises(CommandError, match="Name one community's slug, or give --all-communities"):
        run("export_roster", *args)


def test_bench_times_an_export_of_every_membership(tmp_path):
    """The benchmark times the product's own export of every membership: its report
    counts the rows that ``export_roster --all-communities --all`` writes."""
    call_command(
        "seed_demo", scale="enterprise", enterprise_factor=0.001, force=True, stdout=io.StringIO()
    )
    _out, err = run("export_roster", "--all-communities", "--all", "-o", str(tmp_path / "all.csv"))
    written = int(re.search(r"Wrote ([\d,]+) rows", err)[1].replace(",", ""))
    report = io.StringIO()

    call_command("bench", quick=True, sections="bulk", stdout=report)

    row = re.search(r"membership export \(\d+ MB CSV\)\s+([\d,]+)\s", report.getvalue())
    assert row, report.getvalue()
    assert int(row[1].replace(",", "")) == written == Membership.objects.count()


# -- permissions ------------------------------------------------------------------------

ROLES = ["anonymous", "outsider", "member", "other_steward", "steward", "directory_admin"]
ALLOWED = {"steward", "directory_admin"}


@pytest.fixture
def import_cast(open_kc, steward, users_by_role, people):
    """A pending import into ``open_kc`` (adding Priya), and one person for each role."""
    pending = services.preview_roster_import(
        community=open_kc,
        actor=actor_of(steward),
        file_name="r.csv",
        text=csv_text("priya.patel@example.org,member,"),
        remove_absent=False,
    )
    return SimpleNamespace(community=open_kc, pending=pending, users=users_by_role)


def _upload_payload():
    return {"file": SimpleUploadedFile("r.csv", b"email,role\nomar.okafor,member\n")}


ENDPOINTS = {
    "import form": ("get", lambda c: url("roster_import", c.community.slug), None),
    "upload": ("post", lambda c: url("roster_import", c.community.slug), _upload_payload),
    "preview": ("get", lambda c: preview_url(c.pending), None),
    "confirm": ("post", lambda c: preview_url(c.pending), dict),
    "choose": (
        "post",
        lambda c: url("roster_import_mode", c.community.slug, c.pending.pk),
        lambda: {"mode": VALID_ROWS},
    ),
    "export": ("get", lambda c: url("roster_export", c.community.slug), None),
}


def _allowed_outcome(endpoint, cast, response):
    if endpoint == "import form":
        assert response.status_code == 200
        assert "Import a membership list" in page_text(response)
    elif endpoint == "upload":
        pending = pending_from(response)
        assert list(pending.rows.values_list("line", "key", "action", "member__display_name")) == [
            (2, "omar.okafor", "add", "Omar Okafor")
        ]
    elif endpoint == "preview":
        assert response.status_code == 200
        assert [row["person"] for row in preview_table(response)] == ["Priya Patel"]
    elif endpoint == "confirm":
        assert response.url == url("community_manage", cast.community.slug)
        assert "Priya Patel" in roster_of(cast.community)
    elif endpoint == "choose":
        assert response.url == preview_url(cast.pending)
        cast.pending.refresh_from_db()
        assert cast.pending.mode == VALID_ROWS
        assert "Priya Patel" not in roster_of(cast.community)
    else:
        assert response.status_code == 200
        assert len(read_csv(streamed_bytes(response))) == 3


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_roster_import_and_export_are_for_the_communitys_stewards_and_admins(
    client, import_cast, endpoint, who
):
    method, path_for, data = ENDPOINTS[endpoint]
    path = path_for(import_cast)
    user = import_cast.users[who]
    if user is not None:
        client.force_login(user)
    before = snapshot()

    response = getattr(client, method)(path, data() if data else None)

    if who in ALLOWED:
        _allowed_outcome(endpoint, import_cast, response)
        return
    if who == "anonymous":
        assert_sent_to_sign_in(response, path)
    else:
        assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("who", ["steward", "directory_admin"])
@pytest.mark.parametrize(
    "method, view",
    [
        ("get", "roster_import_preview"),
        ("post", "roster_import_preview"),
        ("post", "roster_import_mode"),
    ],
)
def test_an_import_of_another_community_is_not_found_through_this_communitys_url(
    client, open_kc, steward, request_kc, directory_admin, people, who, method, view
):
    rex = request_kc.memberships.get(role=Role.STEWARD).member
    other = services.preview_roster_import(
        community=request_kc,
        actor=rex,
        file_name="theirs.csv",
        text=csv_text("priya.patel@example.org,member,"),
        remove_absent=False,
    )
    client.force_login(steward if who == "steward" else directory_admin)
    before = snapshot()

    response = getattr(client, method)(url(view, open_kc.slug, other.pk), {"mode": VALID_ROWS})

    assert response.status_code == 404
    assert snapshot() == before


# -- migration 0016 ---------------------------------------------------------------------


# serialized_rollback: the flush after a transactional test would drop what the
# migrations created (the "Directory admins" group) for the tests after.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_migration_0016_keeps_clean_and_applied_imports_and_drops_waiting_ones_with_errors(
    open_kc, steward
):
    """Imports waiting with rows in error were planned under the old rule and order: they
    go. The rest stay, all or nothing."""
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        ("communities", "0015_community_proposal_note"),
        (
            "communities",
            "0016_roster_import_mode",
        ),
    )
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        old = executor.loader.project_state([before]).apps.get_model("communities", "RosterImport")

        def old_import(name, errors, applied):
            return old.objects.create(
                community_id=open_kc.pk,
                file_name=name,
                fingerprint="x",
                totals={"add": 1, "error": errors},
                applied_at=timezone.now() if applied else None,
            ).pk

        waiting_with_errors = old_import("bad.csv", 2, applied=False)
        waiting_clean = old_import("good.csv", 0, applied=False)
        applied_with_errors = old_import("done.csv", 3, applied=True)

        executor = MigrationExecutor(connection)
        executor.migrate([after])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    kept = dict(RosterImport.objects.values_list("pk", "mode"))
    assert waiting_with_errors not in kept
    assert kept == {waiting_clean: ALL_OR_NOTHING, applied_with_errors: ALL_OR_NOTHING}
