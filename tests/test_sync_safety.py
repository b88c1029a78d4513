"""The HR sync's safety net: a sync that would deactivate more than a configurable share
of people (default 5%) is refused unless forced on the command line, and the admin page
applies exactly the file it dry-ran (its SHA-256), never a re-upload."""

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from communities import services
from communities.models import PeopleSyncUpload
from communities.people_sync import parse_hr_csv, plan_sync
from kcdir.settings import env_share
from members.models import Member

from .factories import MemberFactory, UserFactory
from .test_sync_people import SYNC_URL, apply_form, hr_csv, row_for, snapshot, upload

pytestmark = pytest.mark.django_db

PEOPLE = 40


@pytest.fixture
def staff_of_40(db):
    """Forty people HR manages, and an admin account HR never touches."""
    people = [MemberFactory(user__username=f"p{n:02d}") for n in range(PEOPLE)]
    UserFactory(username="root", is_superuser=True, is_staff=True)
    return people


def extract_of(people) -> bytes:
    return hr_csv([row_for(Member.objects.select_related("user").get(pk=p.pk)) for p in people])


def plan_of(data: bytes):
    return plan_sync(parse_hr_csv(data).rows)


def active_usernames() -> set[str]:
    return set(Member.objects.filter(user__is_active=True).values_list("user__username", flat=True))


# -- the service ------------------------------------------------------------------------


def test_a_truncated_extract_is_refused_with_the_counts_and_changes_nothing(staff_of_40):
    plan = plan_of(extract_of(staff_of_40[:2]))
    before = snapshot()

    with pytest.raises(services.SyncRefused) as refused:
        services.sync_people(plan=plan)

    assert str(refused.value) == (
        "This file would deactivate 38 of 40 people (95%); the most one sync may deactivate "
        "is 5%. Check that the file is the whole extract. To apply it anyway, run "
        "“manage.py sync_people FILE --apply --force” on the server."
    )
    assert snapshot() == before


def test_forcing_applies_a_large_deactivation(staff_of_40):
    plan = plan_of(extract_of(staff_of_40[:2]))

    summary = services.sync_people(plan=plan, force=True)

    assert summary["deactivated"] == 38
    assert active_usernames() == {"p00", "p01"}


def test_up_to_the_limit_is_applied_and_admins_do_not_count(staff_of_40):
    plan = plan_of(extract_of(staff_of_40[2:]))  # 2 of 40 = 5%: not more than the limit

    assert plan.active_people == PEOPLE
    services.sync_people(plan=plan)

    assert len(active_usernames()) == PEOPLE - 2


def test_the_limit_is_a_setting(staff_of_40, settings):
    settings.PEOPLE_SYNC_MAX_DEACTIVATE_SHARE = 0.025
    with pytest.raises(services.SyncRefused, match=r"2 of 40 people \(5%\).* is 2\.5%"):
        services.sync_people(plan=plan_of(extract_of(staff_of_40[2:])))

    settings.PEOPLE_SYNC_MAX_DEACTIVATE_SHARE = 0.99
    services.sync_people(plan=plan_of(extract_of(staff_of_40[:2])))
    assert len(active_usernames()) == 2


@pytest.mark.parametrize(
    ("value", "share"), [("", 0.05), ("0.1", 0.1), ("5%", 0.05), ("12.5%", 0.125), ("0", 0.0)]
)
def test_the_environment_variable_takes_a_fraction_or_a_percentage(monkeypatch, value, share):
    monkeypatch.setenv("KCDIR_PEOPLE_SYNC_MAX_DEACTIVATE", value)

    assert env_share("KCDIR_PEOPLE_SYNC_MAX_DEACTIVATE", "0.05") == pytest.approx(share)


@pytest.mark.parametrize("value", ["lots", "150%", "-0.1", "2"])
def test_a_nonsense_limit_stops_kcdir_from_starting(monkeypatch, value):
    monkeypatch.setenv("KCDIR_PEOPLE_SYNC_MAX_DEACTIVATE", value)

    with pytest.raises(ImproperlyConfigured, match="KCDIR_PEOPLE_SYNC_MAX_DEACTIVATE"):
        env_share("KCDIR_PEOPLE_SYNC_MAX_DEACTIVATE", "0.05")


# -- the command ------------------------------------------------------------------------


@pytest.fixture
def two_rows(staff_of_40, tmp_path):
    path = tmp_path / "hr.csv"
    path.write_bytes(extract_of(staff_of_40[:2]))
    return path


def test_the_command_refuses_to_apply_a_truncated_extract(two_rows):
    before = snapshot()

    with pytest.raises(CommandError) as refused:
        call_command("sync_people", str(two_rows), "--apply", stdout=io.StringIO())

    assert "would deactivate 38 of 40 people (95%)" in str(refused.value)
    assert "--force" in str(refused.value)
    assert "Nothing was changed." in str(refused.value)
    assert snapshot() == before


def test_the_command_dry_run_warns_and_prints_the_fingerprint(two_rows):
    out = io.StringIO()

    call_command("sync_people", str(two_rows), stdout=out)

    printed = out.getvalue()
    assert f"SHA-256 of the file: {services.file_fingerprint(two_rows.read_bytes())}" in printed
    assert "Applying it would be refused: This file would deactivate 38 of 40" in printed


def test_the_command_applies_a_truncated_extract_only_with_force(two_rows):
    out = io.StringIO()

    call_command("sync_people", str(two_rows), "--apply", "--force", stdout=out)

    assert "--force: applying although" in out.getvalue()
    assert active_usernames() == {"p00", "p01"}


def test_the_command_applies_only_the_file_whose_fingerprint_it_was_given(staff_of_40, tmp_path):
    path = tmp_path / "hr.csv"
    path.write_bytes(extract_of(staff_of_40[1:]))
    checked = services.file_fingerprint(path.read_bytes())
    path.write_bytes(extract_of(staff_of_40[2:]))  # replaced after it was checked
    before = snapshot()

    with pytest.raises(CommandError, match="is not the file you checked"):
        call_command("sync_people", str(path), "--apply", "--sha256", checked)
    assert snapshot() == before

    current = services.file_fingerprint(path.read_bytes())
    call_command("sync_people", str(path), "--apply", "--sha256", current, stdout=io.StringIO())
    assert len(active_usernames()) == PEOPLE - 2


# -- the admin page ---------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="hr-admin", is_superuser=True, is_staff=True))
    return client


def test_the_page_never_offers_to_apply_a_truncated_extract(admin_client, staff_of_40):
    before = snapshot()

    response = admin_client.post(SYNC_URL, upload(extract_of(staff_of_40[:2])))

    page = response.content.decode()
    assert "This file would deactivate 38 of 40 people (95%)" in page
    assert 'value="Apply these changes"' not in page
    assert not PeopleSyncUpload.objects.exists()
    assert snapshot() == before


def test_the_page_applies_exactly_the_file_it_dry_ran(admin_client, staff_of_40):
    data = extract_of(staff_of_40[1:])
    dry_run = admin_client.post(SYNC_URL, upload(data))
    fields = apply_form(dry_run)
    assert fields["sha256"] == services.file_fingerprint(data)
    assert services.file_fingerprint(data) in dry_run.content.decode()

    response = admin_client.post(SYNC_URL, fields)

    assert "The changes are applied." in response.content.decode()
    assert "p00" not in active_usernames()
    stored = PeopleSyncUpload.objects.get()
    assert stored.applied_at is not None and stored.applied_by.username == "hr-admin"


def test_applying_with_another_files_fingerprint_is_refused(admin_client, staff_of_40):
    first = apply_form(admin_client.post(SYNC_URL, upload(extract_of(staff_of_40[1:]))))
    second = apply_form(admin_client.post(SYNC_URL, upload(extract_of(staff_of_40[2:]))))
    before = snapshot()

    response = admin_client.post(SYNC_URL, {"upload": first["upload"], "sha256": second["sha256"]})

    assert "That is not the file you previewed, so nothing was applied." in (
        response.content.decode()
    )
    assert snapshot() == before


def test_a_re_upload_with_apply_ticked_is_only_a_dry_run(admin_client, staff_of_40):
    before = snapshot()

    response = admin_client.post(SYNC_URL, {**upload(extract_of(staff_of_40[1:])), "apply": "on"})

    assert "Dry run: nothing changed" in response.content.decode()
    assert snapshot() == before


def test_a_dry_run_is_applied_once_and_not_after_the_directory_changed(admin_client, staff_of_40):
    fields = apply_form(admin_client.post(SYNC_URL, upload(extract_of(staff_of_40[1:]))))
    admin_client.post(SYNC_URL, fields)
    before = snapshot()

    again = admin_client.post(SYNC_URL, fields)
    assert "This file was applied already" in again.content.decode()

    stale = apply_form(admin_client.post(SYNC_URL, upload(extract_of(staff_of_40[2:]))))
    MemberFactory(user__username="new-starter")  # another sync or the admin added someone
    changed = admin_client.post(SYNC_URL, stale)
    assert "The directory changed since this dry run" in changed.content.decode()
    assert snapshot()["users"][:-1] == before["users"]


def test_applying_needs_the_sync_permission(client, staff_of_40, admin_client):
    fields = apply_form(admin_client.post(SYNC_URL, upload(extract_of(staff_of_40[1:]))))
    staff_without_permission = UserFactory(is_staff=True)
    client.force_login(staff_without_permission)
    client.get(SYNC_URL)  # their member profile is made on their first visit
    client.logout()
    before = snapshot()

    anonymous = client.post(SYNC_URL, fields)
    client.force_login(staff_without_permission)
    refused = client.post(SYNC_URL, fields)

    assert anonymous.status_code == 302 and "login" in anonymous.url
    assert refused.status_code == 403
    assert snapshot() == before
