"""People sync from HR: ``communities.people_sync`` and ``services.sync_people``,
``manage.py sync_people`` and the admin page."""

import codecs
import csv
import io
import math
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from communities import people_sync, services
from communities.models import Community, Membership, MembershipEvent
from communities.people_sync import ChangeKind, SyncError, parse_hr_csv, plan_sync
from communities.services.people import BATCH_SIZE, IN_CHUNK
from members.models import Department, Member

from .factories import (
    CommunityFactory,
    DepartmentFactory,
    MemberFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

User = get_user_model()
State, Role = Membership.State, Membership.Role
COLUMNS = [
    "username",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "job_title",
    "department",
    "location",
]
SYNC_URL = reverse("admin:members_member_sync")


def hr_csv(rows: list[dict], *, columns=COLUMNS, bom: bool = False, delimiter=",") -> bytes:
    """An HR extract as Excel writes it: CRLF line endings, optionally a BOM, and ``;``
    between the columns where the decimal mark is a comma."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", delimiter=delimiter)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return (codecs.BOM_UTF8 if bom else b"") + out.getvalue().encode()


def row_for(member: Member, **changes) -> dict:
    """The extract's row for someone already in the directory, exactly as they are."""
    user = member.user
    return {
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": member.display_name,
        "job_title": member.job_title,
        "department": member.department.name if member.department else "",
        "location": member.location,
        **changes,
    }


def everyone_but(*leavers: Member) -> list[dict]:
    return [
        row_for(m) for m in Member.objects.select_related("user", "department") if m not in leavers
    ]


def sync_file(data: bytes) -> people_sync.SyncPlan:
    plan = plan_sync(parse_hr_csv(data).rows)
    services.sync_people(plan=plan)
    return plan


def snapshot() -> dict:
    """Every row a sync could touch, to prove one did not."""
    return {
        "users": list(
            User.objects.order_by("pk").values_list(
                "pk", "username", "email", "first_name", "last_name", "is_active"
            )
        ),
        "members": list(Member.objects.order_by("pk").values()),
        "departments": list(Department.objects.order_by("pk").values()),
        "memberships": list(Membership.objects.order_by("pk").values()),
        "events": MembershipEvent.objects.count(),
    }


@pytest.fixture(autouse=True)
def _no_deactivation_limit(settings):
    """These directories are a handful of people, so one leaver is a large share: the
    limit on deactivations has its own tests (``test_sync_safety``)."""
    settings.PEOPLE_SYNC_MAX_DEACTIVATE_SHARE = 1.0


@pytest.fixture
def directory():
    """Three people in HR's care, one KC led by one of them, and two admin accounts."""
    claims = DepartmentFactory(name="Claims", slug="claims")
    ana = MemberFactory(
        user__username="ana", display_name="Ana Alvarez", department=claims, job_title="Adjuster"
    )
    ben = MemberFactory(user__username="ben", display_name="Ben Brown", department=claims)
    cal = MemberFactory(user__username="cal", display_name="Cal Cole", department=None)
    kc = CommunityFactory(name="Fraud Signals", slug="fraud-signals")
    MembershipFactory(member=ana, community=kc, role=Role.SPONSOR)
    MembershipFactory(member=cal, community=kc, role=Role.STEWARD)
    MembershipFactory(member=ben, community=kc, role=Role.MEMBER)
    return {"ana": ana, "ben": ben, "cal": cal, "claims": claims, "kc": kc}


@pytest.fixture
def superuser(db):
    """A superuser account with no Member (unlike the shared ``superuser``): an account
    the HR file never lists."""
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def staff_account(db):
    """A staff (admin) account with no permissions: never managed by HR."""
    return MemberFactory(user__username="svc-admin", user__is_staff=True).user


# Parsing ------------------------------------------------------------------------------


def test_parse_accepts_bom_crlf_header_variants_and_ignores_unknown_columns():
    data = (
        codecs.BOM_UTF8
        + (
            "UserName, Email ,First Name,last-name,Phone\r\n"
            "jsmith,J.Smith@Example.ORG,Zoë,Smith,555\r\n"
            "\r\n"
            '"jdoe","jdoe@example.org","John","Doe, Jr.",""\r\n'
        ).encode()
    )

    extract = parse_hr_csv(data)

    assert extract.ignored_columns == ["Phone"]
    jane, john = extract.rows
    assert (jane.line, jane.username, jane.email) == (2, "jsmith", "J.Smith@example.org")
    assert (jane.first_name, jane.last_name) == ("Zoë", "Smith")
    assert jane.job_title is None  # no such column: the sync leaves job titles alone
    assert (john.line, john.last_name) == (4, "Doe, Jr.")


@pytest.mark.parametrize("separator", [";", "\t"], ids=["semicolons", "tabs"])
def test_parse_reads_an_extract_separated_by_semicolons_or_tabs_as_excel_writes_them(separator):
    rows = [
        ["UserName", "Email", "Last Name", "Department"],
        ["jsmith", "j.smith@example.org", "Smith", "Claims; Fraud, North"],
        ["jdoe", "jdoe@example.org", "Doe, Jr.", ""],
    ]
    text = "".join(
        separator.join(f'"{cell}"' if ";" in cell or "," in cell else cell for cell in row) + "\r\n"
        for row in rows
    )

    extract = parse_hr_csv(codecs.BOM_UTF8 + text.encode())

    jane, john = extract.rows
    assert (jane.username, jane.email, jane.department) == (
        "jsmith",
        "j.smith@example.org",
        "Claims; Fraud, North",
    )
    assert (john.line, john.last_name, john.department) == (3, "Doe, Jr.", "")
    assert extract.ignored_columns == []


def test_sync_command_applies_a_semicolon_separated_extract(directory, tmp_path):
    path = tmp_path / "hr.csv"
    path.write_bytes(
        codecs.BOM_UTF8
        + (
            b"username;email;display_name;department\r\n"
            b"ana;ana@example.org;Ana Alvarez;Claims\r\n"
            b"ben;ben@example.org;Ben Brown;Claims\r\n"
            b'cal;cal@example.org;"Cole; Cal";\r\n'
        )
    )

    call_command("sync_people", str(path), "--apply", stdout=io.StringIO())

    directory["cal"].refresh_from_db()
    assert directory["cal"].display_name == "Cole; Cal"
    assert directory["cal"].user.is_active


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (codecs.BOM_UTF8 + b"\r\n", "The file is empty."),
        (b"username,first_name\r\njsmith,Jane\r\n", "Line 1: the header has no 'email' column"),
        (
            b"username;email,department\r\njsmith;j@example.org\r\n",
            "The header mixes separators (\u201c,\u201d and \u201c;\u201d)",
        ),
        (b"login|mail\r\njsmith|j@example.org\r\n", "separated by ',' or ';'"),
        (b"username,email\r\n", "the file has a header but no people"),
        (
            b"username,email\r\njsmith,j@example.org\r\njdoe,d@example.org\r\njsmith,x@example.org\r\n",
            "Line 4: the username 'jsmith' appears again (first on line 2).",
        ),
        (b"username,email\r\n,j@example.org\r\n", "Line 2: the username is empty."),
        (b"username,email\r\njsmith,\r\n", "Line 2: the email is empty."),
        (b"username,email\r\njsmith,not-an-email\r\n", "Line 2: 'not-an-email' is not a valid"),
        (b"username,email\r\njane smith,j@example.org\r\n", "Line 2: the username 'jane smith'"),
        (b"username,email\r\njsmith,j@example.org,extra\r\n", "Line 2: 3 values, but the header"),
        (
            b"username,email\r\nok,o@example.org\r\nb\xe9a,b@example.org\r\n",
            "Line 3: not valid UTF-8",
        ),
        (b"PK\x03\x04\x14\x00\x06\x00binary", "Line 1: the file contains NUL bytes"),
        (b'username,email\r\n"jsmith,j@example.org\r\n', "not valid CSV"),
    ],
    ids=[
        "empty",
        "bom-only",
        "missing-required-header",
        "mixed-separators",
        "unknown-separator",
        "header-only",
        "duplicate-username",
        "empty-username",
        "empty-email",
        "bad-email",
        "bad-username",
        "wrong-field-count",
        "not-utf8",
        "nul-bytes",
        "unclosed-quote",
    ],
)
def test_bad_file_is_refused_with_a_clear_message_and_changes_nothing(
    directory, data, message, tmp_path
):
    before = snapshot()

    with pytest.raises(SyncError) as error:
        parse_hr_csv(data)
    assert message.lower() in str(error.value).lower()

    path = tmp_path / "hr.csv"
    path.write_bytes(data)
    with pytest.raises(CommandError, match=f"(?i){re.escape(message[:30])}"):
        call_command("sync_people", str(path), "--apply", stdout=io.StringIO())
    assert snapshot() == before


def test_every_problem_in_a_file_is_reported_not_only_the_first():
    data = b"username,email\r\n,a@example.org\r\nb,not-email\r\nc,c@example.org\r\n"

    with pytest.raises(SyncError) as error:
        parse_hr_csv(data)

    assert error.value.problems == [
        "Line 2: the username is empty.",
        "Line 3: 'not-email' is not a valid email address.",
    ]


# Creating and updating ----------------------------------------------------------------


def test_sync_creates_user_member_and_department():
    plan = sync_file(
        hr_csv(
            [
                {
                    "username": "jsmith",
                    "email": "jane.smith@example.org",
                    "first_name": "Jane",
                    "last_name": "Smith",
                    "display_name": "Jane S.",
                    "job_title": "Actuary",
                    "department": "Claims & Underwriting",
                    "location": "Leeds",
                },
                {
                    "username": "jdoe",
                    "email": "jdoe@example.org",
                    "first_name": "John",
                    "last_name": "Doe",
                    "department": "Claims & Underwriting",
                },
            ]
        )
    )

    assert (plan.summary()["rows"], plan.summary()["created"]) == (2, 2)
    assert plan.summary()["departments_created"] == 1
    jane = Member.objects.select_related("user", "department").get(user__username="jsmith")
    assert (jane.user.email, jane.user.first_name, jane.user.last_name) == (
        "jane.smith@example.org",
        "Jane",
        "Smith",
    )
    assert jane.user.is_active and not jane.user.is_staff and not jane.user.is_superuser
    assert not jane.user.has_usable_password()  # they sign in through single sign-on
    assert (jane.display_name, jane.job_title, jane.location) == ("Jane S.", "Actuary", "Leeds")
    assert (jane.department.name, jane.department.slug) == (
        "Claims & Underwriting",
        "claims-underwriting",
    )
    john = Member.objects.get(user__username="jdoe")
    assert john.display_name == "John Doe"  # the default: first and last name
    assert john.department_id == jane.department_id
    assert Department.objects.count() == 1


def test_sync_updates_changed_fields_only_and_leaves_unchanged_rows_alone(directory):
    ana, ben, cal = directory["ana"], directory["ben"], directory["cal"]
    untouched = {m.pk: m.updated_at for m in Member.objects.filter(pk__in=[ben.pk, cal.pk])}
    DepartmentFactory(name="Fraud", slug="fraud")

    plan = sync_file(
        hr_csv(
            [
                row_for(ana, job_title="Senior adjuster", department="FRAUD"),
                row_for(ben),
                row_for(cal, email="cal.cole@example.org"),
            ]
        )
    )

    changes = {change.username: change.changed for change in plan.changes}
    assert changes == {
        "ana": {
            "job_title": ("Adjuster", "Senior adjuster"),
            "department": ("Claims", "Fraud"),  # found by slug, not created again
        },
        "cal": {"email": (cal.user.email, "cal.cole@example.org")},
    }
    assert plan.summary()["unchanged"] == 1
    ana.refresh_from_db()
    assert (ana.job_title, ana.department.name, ana.display_name) == (
        "Senior adjuster",
        "Fraud",
        "Ana Alvarez",
    )
    assert User.objects.get(username="cal").email == "cal.cole@example.org"
    assert Member.objects.get(pk=ben.pk).updated_at == untouched[ben.pk]
    assert Member.objects.get(pk=cal.pk).updated_at == untouched[cal.pk]  # only the user changed
    assert Department.objects.filter(slug__startswith="fraud").count() == 1


def test_columns_missing_from_the_file_are_left_alone(directory):
    ana = directory["ana"]

    plan = sync_file(
        hr_csv(
            [{"username": m.user.username, "email": m.user.email} for m in directory_members()],
            columns=["username", "email"],
        )
    )

    assert plan.summary()["unchanged"] == 3
    ana.refresh_from_db()
    assert (ana.display_name, ana.job_title, ana.department.name, ana.location) == (
        "Ana Alvarez",
        "Adjuster",
        "Claims",
        "London",
    )


def directory_members() -> list[Member]:
    return list(Member.objects.select_related("user").filter(user__is_staff=False))


def test_existing_user_without_a_member_gets_one(directory):
    user = UserFactory(username="sso-only", first_name="Sia", last_name="Olsen")

    plan = sync_file(
        hr_csv(
            [*everyone_but(), {"username": "sso-only", "email": user.email}],
            columns=["username", "email"],
        )
    )

    (change,) = plan.changes
    assert change.kind == ChangeKind.UPDATE and "member profile created" in change.details()
    assert Member.objects.get(user=user).display_name == "Sia Olsen"


def test_username_differing_only_in_capitals_is_an_error_and_nothing_is_applied(directory):
    before = snapshot()

    plan = plan_sync(
        parse_hr_csv(hr_csv([*everyone_but(), {"username": "ANA", "email": "a@x.org"}])).rows
    )

    assert plan.errors == [
        "Line 5: the username 'ANA' differs only in capitals from the existing user 'ana'. "
        "Correct the file or the user so they match."
    ]
    with pytest.raises(SyncError):
        services.sync_people(plan=plan)
    assert snapshot() == before


# Leaving and coming back --------------------------------------------------------------


def test_missing_person_is_deactivated_and_leaves_communities_with_one_event_each(directory):
    cal, kc = directory["cal"], directory["kc"]
    other_kc = CommunityFactory(join_policy=Community.JoinPolicy.REQUEST)
    cop = CommunityFactory(kind=Community.Kind.COP)
    MembershipFactory(member=cal, community=other_kc, state=State.REQUESTED)
    MembershipFactory(member=cal, community=cop, role=Role.PARTICIPANT, state=State.LEFT)
    history_before = set(MembershipEvent.objects.values_list("pk", flat=True))

    plan = sync_file(hr_csv(everyone_but(cal)))

    assert plan.summary()["deactivated"] == 1
    assert plan.summary()["memberships_left"] == 2
    cal_user = User.objects.get(username="cal")  # still there: never deleted
    assert not cal_user.is_active
    assert Member.objects.filter(user=cal_user).exists()
    states = dict(cal.memberships.values_list("community_id", "state"))
    assert states == {kc.pk: State.LEFT, other_kc.pk: State.LEFT, cop.pk: State.LEFT}
    assert cal.memberships.get(community=kc).role == Role.STEWARD  # the role is history too
    new_events = MembershipEvent.objects.exclude(pk__in=history_before)
    assert sorted(
        new_events.values_list(
            "community_id",
            "action",
            "actor",
            "actor_name",
            "target",
            "target_name",
            "state_before",
            "state_after",
            "role_before",
            "role_after",
            "note",
        )
    ) == sorted(
        [
            (
                kc.pk,
                "left",
                None,
                "HR sync",
                cal.pk,
                "Cal Cole",
                "active",
                "left",
                "steward",
                "steward",
                "Left the organisation",
            ),
            (
                other_kc.pk,
                "left",
                None,
                "HR sync",
                cal.pk,
                "Cal Cole",
                "requested",
                "left",
                "member",
                "member",
                "Left the organisation",
            ),
        ]
    )
    # On purpose: the last steward left with the person; the dashboard shows the gap.
    assert not kc.memberships.filter(state=State.ACTIVE, role=Role.STEWARD).exists()
    assert User.objects.filter(username__in=["ana", "ben"], is_active=True).count() == 2


def test_superusers_and_staff_are_never_changed_or_deactivated(directory, superuser, staff_account):
    plan = sync_file(
        hr_csv(
            [
                *everyone_but(staff_account.member),
                {"username": "svc-admin", "email": "hijack@example.org"},
            ]
        )
    )

    assert plan.skipped_admins == ["svc-admin"]
    assert plan.kept_admins == 1  # root, not in the file
    assert plan.summary()["deactivated"] == 0
    superuser.refresh_from_db()
    staff_account.refresh_from_db()
    assert superuser.is_active and staff_account.is_active
    assert staff_account.email == "svc-admin@example.org"


def test_person_who_comes_back_is_reactivated_without_their_memberships(directory):
    cal, kc = directory["cal"], directory["kc"]
    sync_file(hr_csv(everyone_but(cal)))
    events = MembershipEvent.objects.count()

    plan = sync_file(hr_csv([*everyone_but(cal), row_for(cal, job_title="Returner")]))

    (change,) = plan.changes
    assert change.kind == ChangeKind.REACTIVATE
    assert change.changed == {"job_title": ("Analyst", "Returner")}
    cal.refresh_from_db()
    assert cal.user.is_active and cal.job_title == "Returner"
    assert cal.memberships.get(community=kc).state == State.LEFT
    assert MembershipEvent.objects.count() == events


# Dry run and rerun --------------------------------------------------------------------


def mixed_file(directory) -> bytes:
    """Creates one person, updates one, leaves one unchanged and drops one."""
    return hr_csv(
        [
            row_for(directory["ana"], location="Leeds"),
            row_for(directory["ben"]),
            {"username": "dee", "email": "dee@example.org", "department": "Pricing"},
        ]
    )


def test_dry_run_changes_nothing(directory, superuser, tmp_path):
    before = snapshot()
    path = tmp_path / "hr.csv"
    path.write_bytes(mixed_file(directory))

    plan = plan_sync(parse_hr_csv(path.read_bytes()).rows)
    out = io.StringIO()
    call_command("sync_people", str(path), stdout=out)

    summary = plan.summary()
    assert (summary["created"], summary["updated"], summary["deactivated"]) == (1, 1, 1)
    assert snapshot() == before
    assert "Dry run: nothing changed. Run again with --apply to apply." in out.getvalue()


def test_rerun_after_apply_is_a_no_op(directory):
    data = mixed_file(directory)
    sync_file(data)
    before = snapshot()

    plan = plan_sync(parse_hr_csv(data).rows)
    with CaptureQueriesContext(connection) as queries:
        services.sync_people(plan=plan)

    assert plan.is_empty
    assert plan.changes == [] and plan.new_departments == {}
    assert plan.summary()["unchanged"] == 3
    assert not [q for q in queries if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    assert snapshot() == before


# The command --------------------------------------------------------------------------


def test_command_dry_run_lists_changes_and_summary(directory, superuser, tmp_path):
    path = tmp_path / "hr.csv"
    path.write_bytes(mixed_file(directory))
    out = io.StringIO()

    call_command("sync_people", str(path), stdout=out)

    output = out.getvalue()
    assert "Read 3 people from" in output
    assert "To create:\n  dee (dee, line 4): department: Pricing\n" in output
    assert "To update:\n  ana (Ana Alvarez, line 2): location: 'London' -> 'Leeds'\n" in output
    assert "To deactivate:\n  cal (Cal Cole): open memberships: 1\n" in output
    assert "never changed or deactivated by a sync" in output
    assert (
        output.rstrip()
        .splitlines()[-1]
        .startswith(
            "Summary (dry run): 3 rows: 1 created, 1 updated, 0 reactivated, 1 deactivated "
            "(1 memberships marked left), 1 unchanged; new departments: 1"
        )
    )


def test_command_lists_a_sample_of_every_kind_so_leavers_are_never_hidden(directory, tmp_path):
    newcomers = [{"username": f"new{n:02d}", "email": f"new{n}@example.org"} for n in range(12)]
    path = tmp_path / "hr.csv"
    path.write_bytes(hr_csv([*everyone_but(directory["cal"]), *newcomers]))
    out = io.StringIO()

    call_command("sync_people", str(path), stdout=out)
    verbose = io.StringIO()
    call_command("sync_people", str(path), "--verbose", stdout=verbose)

    output = out.getvalue()
    assert "new09 (new09, line 13)" in output and "new10" not in output
    assert "… and 2 more (--verbose lists them all)." in output
    assert "To deactivate:\n  cal (Cal Cole): open memberships: 1" in output
    assert "new11 (new11, line 15)" in verbose.getvalue()


def test_command_apply_applies_and_a_second_run_finds_nothing_to_do(directory, tmp_path):
    path = tmp_path / "hr.csv"
    path.write_bytes(mixed_file(directory))

    out = io.StringIO()
    call_command("sync_people", str(path), "--apply", stdout=out)
    again = io.StringIO()
    call_command("sync_people", str(path), "--apply", stdout=again)

    assert "Applied in one transaction." in out.getvalue()
    assert "Summary: 3 rows: 1 created" in out.getvalue()
    assert User.objects.get(username="dee").member.department.name == "Pricing"
    assert not User.objects.get(username="cal").is_active
    assert "Nothing to change: the directory already matches the file." in again.getvalue()


def test_command_reports_progress_on_large_files(tmp_path):
    path = tmp_path / "hr.csv"
    path.write_bytes(people_file(6000))
    out = io.StringIO()

    call_command("sync_people", str(path), "--apply", stdout=out)

    output = out.getvalue()
    assert "Planning: 5,000 of 6,000" in output
    assert "Creating: 5,000 of 6,000" in output
    assert "Summary: 6,000 rows: 6,000 created" in output


def test_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("sync_people", str(tmp_path / "nope.csv"), stdout=io.StringIO())


# The admin page -----------------------------------------------------------------------


def upload(data: bytes) -> dict:
    return {"file": SimpleUploadedFile("hr.csv", data, content_type="text/csv")}


def apply_form(response) -> dict:
    """The hidden fields of a dry run's "Apply these changes" form."""
    page = response.content.decode()
    return {
        name: re.search(rf'name="{name}" value="([^"]*)"', page).group(1)
        for name in ("upload", "sha256")
    }


def test_sync_page_walks_the_roles(client, directory, superuser, staff_account):
    before = snapshot()

    response = client.post(SYNC_URL, upload(mixed_file(directory)))
    assert response.status_code == 302 and "login" in response.url

    client.force_login(staff_account)  # staff, but without the permission
    assert client.get(SYNC_URL).status_code == 403
    assert client.post(SYNC_URL, upload(mixed_file(directory))).status_code == 403
    assert snapshot() == before

    for allowed in (
        superuser,
        _staff_with("members.change_member"),
        _staff_with("communities.manage_directory"),
    ):
        client.force_login(allowed)
        response = client.get(SYNC_URL)
        assert response.status_code == 200
        assert "Upload for a dry run" in response.content.decode()


def _staff_with(permission: str):
    app_label, codename = permission.split(".")
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    return user


def test_member_change_list_links_to_the_sync_page(client, superuser):
    client.force_login(superuser)

    response = client.get(reverse("admin:members_member_changelist"))

    assert response.status_code == 200
    assert f'href="{SYNC_URL}"' in response.content.decode()
    assert "Sync people from HR" in response.content.decode()


def test_sync_page_dry_run_shows_summary_and_changes_nothing(client, directory, superuser):
    client.force_login(superuser)
    before = snapshot()

    response = client.post(SYNC_URL, upload(mixed_file(directory)))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Dry run: nothing changed" in page
    assert re.search(r"<th scope=\"row\">Created</th><td>1</td>", page)
    assert re.search(r"<th scope=\"row\">Deactivated</th><td>1</td>", page)
    assert "People who left (deactivated)" in page and "Cal Cole" in page
    assert "<td>dee</td>" in page
    assert snapshot() == before


def test_sync_page_applies_when_asked(client, directory, superuser):
    client.force_login(superuser)
    dry_run = client.post(SYNC_URL, upload(mixed_file(directory)))

    response = client.post(SYNC_URL, apply_form(dry_run))

    assert response.status_code == 200
    assert "The changes are applied." in response.content.decode()
    assert User.objects.get(username="dee").member.department.name == "Pricing"
    assert not User.objects.get(username="cal").is_active
    assert User.objects.get(username="root").is_active


def test_sync_page_applies_a_semicolon_separated_extract_with_a_bom(client, directory, superuser):
    client.force_login(superuser)
    data = hr_csv(
        [
            row_for(directory["ana"], location="Leeds; Manchester"),
            row_for(directory["ben"]),
            {"username": "dee", "email": "dee@example.org", "department": "Pricing, North"},
        ],
        bom=True,
        delimiter=";",
    )
    dry_run = client.post(SYNC_URL, upload(data))
    assert re.search(r"<th scope=\"row\">Created</th><td>1</td>", dry_run.content.decode())

    response = client.post(SYNC_URL, apply_form(dry_run))

    assert "The changes are applied." in response.content.decode()
    assert User.objects.get(username="dee").member.department.name == "Pricing, North"
    directory["ana"].refresh_from_db()
    assert directory["ana"].location == "Leeds; Manchester"
    assert not User.objects.get(username="cal").is_active


def test_sync_page_shows_problems_with_line_numbers_and_applies_nothing(
    client, directory, superuser
):
    client.force_login(superuser)
    before = snapshot()
    data = b"username,email\r\nana,a@example.org\r\nana,b@example.org\r\n"

    response = client.post(SYNC_URL, upload(data))

    page = response.content.decode()
    assert "Line 3: the username &#x27;ana&#x27; appears again (first on line 2)." in page
    assert "Nothing was changed." in page
    assert snapshot() == before


def test_sync_page_refuses_a_file_over_20_mb(client, directory, superuser):
    client.force_login(superuser)
    before = snapshot()
    data = b"username,email\r\n" + b"x" * (20 * 1024 * 1024)

    response = client.post(SYNC_URL, upload(data))

    assert response.status_code == 200
    assert "the limit is 20.0\xa0MB" in response.content.decode()
    assert snapshot() == before


# Scale --------------------------------------------------------------------------------


def people_file(count: int, *, prefix: str = "p", job_title: str = "Analyst") -> bytes:
    departments = [f"Department {n}" for n in range(40)]
    return hr_csv(
        [
            {
                "username": f"{prefix}{n}",
                "email": f"{prefix}{n}@example.org",
                "first_name": "Person",
                "last_name": str(n),
                "job_title": job_title if n % 10 == 0 else "Analyst",
                "department": departments[n % len(departments)],
                "location": "London",
            }
            for n in range(count)
        ]
    )


PLANNING_QUERIES = 4  # users, members, departments, open memberships of leavers
APPLY_FIXED_QUERIES = 12  # savepoint and release, admin ids, the memberships read, and
# the first statement of each kind of write
WRITE_KINDS = 7  # users and members created, members updated, users deactivated,
# memberships marked left, events, (users updated)


def apply_budget(rows: int) -> int:
    """Writes go in batches: a constant plus one statement per batch of rows, never one
    per person. A batch is ``BATCH_SIZE`` rows (``IN_CHUNK`` ids for an
    UPDATE ... WHERE pk IN), or fewer where the database caps a statement's parameters:
    SQLite takes 999, so 76 of the widest rows (membership events, 13 columns)."""
    max_params = connection.features.max_query_params  # PostgreSQL: None, no cap
    per_statement = min(BATCH_SIZE, IN_CHUNK, (max_params or 10**9) // 13)
    batches = math.ceil(rows / 10 / per_statement)  # each kind of change is a tenth
    return APPLY_FIXED_QUERIES + WRITE_KINDS * batches


def measured_sync(size: int, django_assert_max_num_queries) -> tuple[int, int]:
    """Sync ``size`` people, a tenth of them leaving (each with a membership), a tenth
    with a new job title and a tenth new; returns the queries to plan and to apply.
    Rolled back afterwards, so sizes can be compared in one test."""
    with transaction.atomic():
        sync_file(people_file(size))  # the directory before
        kc = CommunityFactory()
        leavers = Member.objects.filter(user__username__in=[f"p{n}" for n in range(size // 10)])
        Membership.objects.bulk_create(
            [Membership(member_id=pk, community=kc) for pk in leavers.values_list("pk", flat=True)]
        )
        rows = parse_hr_csv(people_file(size + size // 10, job_title="Senior analyst")).rows
        rows = rows[size // 10 :]

        with django_assert_max_num_queries(PLANNING_QUERIES) as planning:
            plan = plan_sync(rows)
        with django_assert_max_num_queries(apply_budget(size)) as applying:
            summary = services.sync_people(plan=plan)

        tenth = size // 10
        assert summary["created"] == tenth
        assert summary["updated"] == tenth - tenth // 10  # every 10th, minus the leavers
        assert summary["deactivated"] == tenth
        assert summary["memberships_left"] == tenth
        assert MembershipEvent.objects.filter(actor_name="HR sync").count() == tenth
        transaction.set_rollback(True)
    return len(planning), len(applying)


def test_sync_query_count_does_not_grow_with_the_number_of_people(django_assert_max_num_queries):
    small_plan, small_apply = measured_sync(2_000, django_assert_max_num_queries)
    large_plan, large_apply = measured_sync(20_000, django_assert_max_num_queries)

    assert large_plan == small_plan <= PLANNING_QUERIES
    # 18,000 more people (1,800 of each change) cost a few more batches, not 1,800 queries.
    assert large_apply - small_apply <= apply_budget(20_000) - apply_budget(2_000)
    assert large_apply < 20_000 / 50
