"""A steward imports a roster CSV with one bad row, in a real browser."""

import pytest

from communities.models import Membership, MembershipEvent

from ..factories import member_named
from .conftest import CHROMIUM, DESKTOP, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    # live_server needs committed data; serialized_rollback puts back what the
    # migrations created (the "Directory admins" group) for the tests after.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_steward_imports_a_semicolon_csv_is_blocked_by_a_bad_row_then_applies_the_valid_rows(
    live_server, page, sign_in, open_kc, steward, tmp_path
):
    page.set_viewport_size(DESKTOP)
    priya = member_named("Priya Patel")
    omar = member_named("Omar Okafor")
    roster = tmp_path / "spring-roster.csv"
    # As Excel saves "CSV UTF-8" where the decimal mark is a comma: a BOM, ';' between
    # the columns, CRLF, and a note holding both separators in quotes.
    roster.write_bytes(
        "\ufeffemail;role;note\r\n"
        "priya.patel@example.org;member;\r\n"
        "ghost@example.org;member;\r\n"
        'omar.okafor;steward;"Leeds; Manchester, UK"\r\n'.encode()
    )

    sign_in(page, "steward", then=open_kc.get_absolute_url())

    page.get_by_role("link", name="Manage membership").click()
    expect(page.get_by_role("heading", name="Claims Turnaround: membership")).to_be_visible()
    page.get_by_role("link", name="Import CSV").first.click()

    expect(page.get_by_role("heading", name="Import a membership list")).to_be_visible()
    expect(page.get_by_role("radio", name="All or nothing")).to_be_checked()
    page.get_by_label("Roster file (CSV)").set_input_files(str(roster))
    page.get_by_role("button", name="Preview import").click()

    expect(page.get_by_role("heading", name="Preview of spring-roster.csv")).to_be_visible()
    rows = page.get_by_role("table", name="What each row will do").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("ghost@example.org")  # the errors come first
    expect(rows.first).to_contain_text("No one in the directory has this email or username.")
    expect(rows.filter(has=page.get_by_role("cell", name="Add", exact=True))).to_have_count(2)
    expect(page.get_by_text("This import is all or nothing")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm")).to_be_disabled()
    assert not Membership.objects.filter(member__in=[priya, omar]).exists()

    page.get_by_role("radio", name="Apply the valid rows").check()
    page.get_by_role("button", name="Use this choice").click()

    expect(page.get_by_text("will be skipped. 2 changes from the valid rows")).to_be_visible()
    expect(page.get_by_role("radio", name="Apply the valid rows")).to_be_checked()
    assert not Membership.objects.filter(member__in=[priya, omar]).exists()
    page.get_by_role("button", name="Confirm").click()

    expect(
        page.get_by_text(
            "Import applied: 2 added, 0 roles changed, 0 removed. 1 row with an error was skipped."
        )
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Rows skipped")).to_be_visible()
    skipped = page.get_by_role("table", name="Rows skipped").locator("tbody tr")
    expect(skipped).to_have_count(1)
    expect(skipped).to_contain_text("ghost@example.org")
    expect(skipped).to_contain_text("No one in the directory has this email or username.")
    expect(page.get_by_role("button", name="Confirm")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366

    page.get_by_role("link", name="Manage membership").first.click()
    roster_table = page.get_by_role("table", name="Membership list")
    expect(roster_table.get_by_role("link", name="Priya Patel", exact=True)).to_be_visible()
    expect(roster_table.get_by_role("combobox", name="Role of Omar Okafor")).to_have_value(
        "steward"
    )
    assert set(
        MembershipEvent.objects.filter(community=open_kc).values_list("target_name", "note")
    ) == {
        ("Priya Patel", "Imported from spring-roster.csv"),
        ("Omar Okafor", "Imported from spring-roster.csv: Leeds; Manchester, UK"),
    }
