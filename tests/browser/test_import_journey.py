"""A steward imports a roster CSV with one bad row, in a real browser."""

import pytest

from communities.models import Membership, MembershipEvent

from ..factories import PASSWORD, member_named
from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    # live_server needs committed data; serialized_rollback puts back what the
    # migrations created (the "Directory admins" group) for the tests after.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_steward_imports_a_csv_sees_the_bad_row_confirms_and_sees_the_new_members(
    live_server, page, open_kc, steward, tmp_path
):
    priya = member_named("Priya Patel")
    omar = member_named("Omar Okafor")
    roster = tmp_path / "spring-roster.csv"
    roster.write_text(
        "email,role,note\r\n"
        "priya.patel@example.org,member,\r\n"
        "ghost@example.org,member,\r\n"
        "omar.okafor,steward,Leads the Leeds team\r\n",
        encoding="utf-8",
    )

    page.goto(live_server.url + open_kc.get_absolute_url())
    page.get_by_label("Username").fill("steward")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Manage membership").click()
    expect(page.get_by_role("heading", name="Claims Turnaround: membership")).to_be_visible()
    page.get_by_role("link", name="Import CSV").first.click()

    expect(page.get_by_role("heading", name="Import a membership list")).to_be_visible()
    page.get_by_label("Roster file (CSV)").set_input_files(str(roster))
    page.get_by_role("button", name="Preview import").click()

    expect(page.get_by_role("heading", name="Preview of spring-roster.csv")).to_be_visible()
    rows = page.get_by_role("table", name="What each row will do").locator("tbody tr")
    expect(rows).to_have_count(3)
    error_rows = rows.filter(has=page.get_by_role("cell", name="Error", exact=True))
    expect(error_rows).to_have_count(1)
    expect(error_rows).to_contain_text("ghost@example.org")
    expect(error_rows).to_contain_text("No one in the directory has this email or username.")
    expect(rows.filter(has=page.get_by_role("cell", name="Add", exact=True))).to_have_count(2)
    assert not Membership.objects.filter(member__in=[priya, omar]).exists()

    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Claims Turnaround: membership")).to_be_visible()
    expect(page.get_by_text("Import applied: 2 added, 0 roles changed, 0 removed.")).to_be_visible()
    roster_table = page.get_by_role("table", name="Membership list")
    expect(roster_table.get_by_role("link", name="Priya Patel", exact=True)).to_be_visible()
    expect(roster_table.get_by_role("link", name="Omar Okafor", exact=True)).to_be_visible()
    expect(roster_table.get_by_role("combobox", name="Role of Omar Okafor")).to_have_value(
        "steward"
    )
    assert set(
        MembershipEvent.objects.filter(community=open_kc).values_list("target_name", "note")
    ) == {
        ("Priya Patel", "Imported from spring-roster.csv"),
        ("Omar Okafor", "Imported from spring-roster.csv: Leads the Leeds team"),
    }
