"""Property-based tests (Hypothesis): whatever people type, kcdir answers without a 500
and writes either the whole expected change or nothing.

- Every list page, with arbitrary text, unicode, NUL bytes and huge values in each of its
  query parameters, answers 200, 302, 400 or 404.
- Every form, with arbitrary field values, answers without a 500, and the database
  afterwards differs from before by exactly the change that form makes, or not at all.
- Roster CSV import: random bytes and CSV-ish text either raise ``RosterFileError`` with
  a message or give a plan whose every row has a known action; nothing is written.

Each example runs in a savepoint that is rolled back, so every example starts from the
same data (the ``world`` fixture of ``conftest.py``, as in ``test_authz_matrix``). No
example database is kept on disk.
"""

import codecs
from collections import Counter
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from communities.csv_io import roster_upload
from communities.models import (
    Community,
    Membership,
    MembershipEvent,
    Purpose,
    RosterImport,
    StageChange,
)
from members.models import Member

from .factories import DepartmentFactory
from .test_authz_matrix import User, project_url_names

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=25,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FAST_FUZZ = settings(FUZZ, max_examples=150)  # pure functions, no HTTP


# -- strategies -----------------------------------------------------------------------------

ODD_VALUES = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "0",
    "-1",
    "1.5",
    "1e309",
    "NaN",
    "99999999999999999999999999",
    "9" * 5000,  # more digits than int() accepts by default
    "' OR 1=1 --",
    "%",
    "_",
    "\\",
    "%00",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "İstanbul ß ﬁ",
    "👩‍👩‍👧 📚",
    "\u202e\u200b\ufeff",
    "\r\n\t",
    "claims",
    "active",
    "steward",
    "kc",
    "cop",
    "cooperation",
    "newest",
    "members",
    "shape-pricing",
    "department-a",
]

odd_text = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    # huge: one character repeated up to 100,000 times
    st.builds(lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(1000, 100_000)),
)


def mostly(valid, odd=odd_text):
    """Valid values three times in four, so the success path is exercised too.
    (``one_of(valid, valid, valid, odd)`` would not weight: it drops repeats.)"""
    return st.integers(0, 3).flatmap(lambda n: odd if n == 0 else valid)


# A query parameter is usually one value, sometimes repeated.
query_value = st.one_of(odd_text, st.lists(odd_text, min_size=2, max_size=3))


def query_for(params: list[str]):
    return st.fixed_dictionaries({}, optional=dict.fromkeys(params, query_value))


# -- the database, before and after ------------------------------------------------------------


def rows_snapshot() -> dict[str, dict]:
    """Each table's rows by primary key, with the columns a form could change."""
    return {
        "membership": {
            pk: rest
            for pk, *rest in Membership.objects.values_list(
                "pk", "community_id", "member_id", "state", "role", "note"
            )
        },
        "event": {
            pk: rest
            for pk, *rest in MembershipEvent.objects.values_list(
                "pk", "community_id", "target_id", "action"
            )
        },
        "community": {
            pk: rest
            for pk, *rest in Community.objects.values_list(
                "pk", "name", "slug", "kind", "status", "stage", "summary", "proposed_by_id"
            )
        },
        "community_purpose": {
            pk: rest
            for pk, *rest in Community.purposes.through.objects.values_list(
                "pk", "community_id", "purpose_id"
            )
        },
        "purpose": {
            pk: rest for pk, *rest in Purpose.objects.values_list("pk", "statement", "orientation")
        },
        "member": {
            pk: rest
            for pk, *rest in Member.objects.values_list(
                "pk",
                "user_id",
                "display_name",
                "job_title",
                "department_id",
                "location",
                "expertise",
                "bio",
            )
        },
        "user": {
            pk: rest
            for pk, *rest in User.objects.values_list(
                "pk", "username", "email", "is_staff", "is_superuser", "is_active", "password"
            )
        },
        "stage_change": {
            pk: rest
            for pk, *rest in StageChange.objects.values_list("pk", "community_id", "stage_after")
        },
        "roster_import": {
            pk: rest
            for pk, *rest in RosterImport.objects.values_list("pk", "community_id", "applied_at")
        },
    }


def diff(before: dict, after: dict) -> dict:
    """{table: {"added": [row], "removed": [row], "changed": [(old, new)]}}, changed
    tables only."""
    changes = {}
    for table in before:
        old, new = before[table], after[table]
        entry = {
            "added": [new[pk] for pk in new.keys() - old.keys()],
            "removed": [old[pk] for pk in old.keys() - new.keys()],
            "changed": [(old[pk], new[pk]) for pk in old.keys() & new.keys() if old[pk] != new[pk]],
        }
        if any(entry.values()):
            changes[table] = entry
    return changes


def shape(changes: dict) -> dict:
    """How many rows each table gained, lost or changed: {"membership": (1, 0, 0)}."""
    return {
        table: (len(entry["added"]), len(entry["removed"]), len(entry["changed"]))
        for table, entry in changes.items()
    }


@contextmanager
def rolled_back():
    """One example's writes, undone afterwards (whatever the view did)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


OK_STATUSES = {200, 302, 400, 404}


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def world(world):
    """The shared ``world``, plus a department a form can name."""
    DepartmentFactory(name="Department A", slug="department-a")
    return world


@pytest.fixture
def as_steward(client, world):
    client.force_login(world.users["steward"])
    return client


@pytest.fixture
def as_admin(client, world):
    client.force_login(world.users["directory_admin"])
    return client


@pytest.fixture
def as_outsider(client, world):
    client.force_login(world.users["outsider"])
    return client


# -- list pages: arbitrary query strings --------------------------------------------------------

LIST_PAGES = {
    "communities:community_list": (
        (),
        ["q", "kind", "stage", "purpose", "department", "sort", "page"],
    ),
    "communities:community_detail": (("target_slug",), ["q", "page"]),
    "communities:purpose_list": ((), ["q", "page"]),
    "communities:purpose_detail": (("purpose_slug",), ["page"]),
    "communities:ladder": ((), ["purpose", "department", "kind"]),
    "communities:community_manage": (
        ("target_slug",),
        ["q", "role", "state", "page", "requests_page"],
    ),
    "communities:members_add": (("target_slug",), ["q"]),
    "communities:community_history": (("target_slug",), ["action", "page"]),
    "communities:roster_import_preview": (("target_slug", "import_pk"), ["page"]),
    "communities:roster_export": (("target_slug",), ["all"]),
    "communities:dashboard": ((), ["page"]),
    "members:member_list": ((), ["q", "department", "page"]),
    "members:member_history": (("mo_username",), ["action", "page"]),
    "members:my_communities": ((), ["page"]),
    # Insight pages (another change): fuzzed once they are in the URLconf.
    "communities:knowledge_map": ((), ["kind", "department", "community"]),
    "communities:connectors": ((), ["department"]),
    "communities:expertise": ((), ["q", "department", "page"]),
    "communities:insights": ((), ["page"]),
}


@pytest.mark.parametrize("name", sorted(set(LIST_PAGES) & project_url_names()))
def test_list_pages_never_fail_whatever_the_query_string(as_admin, world, name):
    args, params = LIST_PAGES[name]
    path = reverse(name, args=[getattr(world, arg) for arg in args])

    @FUZZ
    @given(query=query_for(params))
    def check(query):
        before = rows_snapshot()
        response = as_admin.get(path, query)
        body_of(response)  # a streamed page fails while streaming, not before
        assert response.status_code in OK_STATUSES, (query, response.status_code)
        assert rows_snapshot() == before  # reading never writes

    check()


# -- forms: arbitrary field values, whole change or none ---------------------------------------


def post_and_diff(client, path, data):
    before = rows_snapshot()
    response = client.post(path, data)
    assert response.status_code in {200, 302, 400}, response.status_code
    changes = diff(before, rows_snapshot())
    event(f"{response.status_code}, {'wrote' if changes else 'wrote nothing'}")  # statistics
    return response, changes


@FUZZ
@given(note=odd_text)
def test_join_request_note_is_saved_whole_or_not_at_all(as_outsider, world, note):
    with rolled_back():
        _response, changes = post_and_diff(
            as_outsider,
            reverse("communities:membership_request", args=[world.target_slug]),
            {"note": note},
        )

        assert shape(changes) in ({}, {"membership": (1, 0, 0), "event": (1, 0, 0)})
        if changes:
            community, member, state, role, saved = changes["membership"]["added"][0]
            assert (community, member, state, role) == (
                world.target.pk,
                world.users["outsider"].member.pk,
                "requested",
                "member",
            )
            assert saved == note.strip()
            assert changes["event"]["added"] == [[world.target.pk, member, "requested"]]


@FUZZ
@given(reason=odd_text, decision=mostly(st.sampled_from(["approve", "deny"])))
def test_deny_reason_decides_the_request_whole_or_not_at_all(as_steward, world, reason, decision):
    with rolled_back():
        _response, changes = post_and_diff(
            as_steward,
            reverse("communities:requests_decide", args=[world.target_slug]),
            {"decision": decision, "memberships": [world.pending.pk], "reason": reason},
        )

        assert shape(changes) in ({}, {"membership": (0, 0, 1), "event": (1, 0, 0)})
        if changes:
            ((old, new),) = changes["membership"]["changed"]
            assert old[2] == "requested"
            assert new[2] == {"approve": "active", "deny": "denied"}[decision]


@FUZZ
@given(data=st.data())
def test_a_rows_own_decide_button_with_any_value_never_fails(as_steward, world, data):
    """The button sends "approve:<pk>"; anything else there must be refused calmly."""
    one = data.draw(
        st.builds(
            "{}{}{}".format,
            mostly(st.sampled_from(["approve", "deny"])),
            mostly(st.just(":")),
            mostly(st.sampled_from([str(world.pending.pk), str(world.mo_membership_pk)])),
        )
    )
    with rolled_back():
        _response, changes = post_and_diff(
            as_steward,
            reverse("communities:requests_decide", args=[world.target_slug]),
            {"one": one},
        )

        assert shape(changes) in ({}, {"membership": (0, 0, 1), "event": (1, 0, 0)})


KNOWN_PEOPLE = ["ada", "bea", "pat", "mo", "ADA@example.org", "otto@example.org", "stella"]
SEPARATORS_PASTED = [",", ";", " ", "\n", "\r\n", "\t", ", ", " ;\n"]
pasted_text = mostly(
    st.tuples(
        st.sampled_from(SEPARATORS_PASTED),
        st.lists(mostly(st.sampled_from(KNOWN_PEOPLE), st.text(max_size=20)), max_size=8),
    ).map(lambda pair: pair[0].join(pair[1]))
)


@FUZZ
@given(pasted=pasted_text, mode=mostly(st.sampled_from(["add", "invite"])))
def test_adding_pasted_people_adds_each_whole_or_nothing(as_steward, world, pasted, mode):
    with rolled_back():
        _response, changes = post_and_diff(
            as_steward,
            reverse("communities:members_add", args=[world.target_slug]),
            {"pasted": pasted, "mode": mode},
        )

        assert set(changes) <= {"membership", "event"}
        if changes:
            memberships = changes["membership"]
            rows = memberships["added"] + [new for _old, new in memberships["changed"]]
            assert not memberships["removed"]
            assert {row[0] for row in rows} == {world.target.pk}
            assert {row[2] for row in rows} == {"active" if mode == "add" else "invited"}
            assert shape(changes)["event"] == (len(rows), 0, 0)  # one history entry each


@FUZZ
@given(
    fields=st.fixed_dictionaries(
        {
            "display_name": mostly(st.text(max_size=40)),
            "job_title": mostly(st.text(max_size=40)),
            "department": mostly(st.sampled_from(["", "department-a"])),
            "location": mostly(st.text(max_size=40)),
            "expertise": mostly(st.text(max_size=80)),
            "bio": mostly(st.text(max_size=200)),
        }
    )
)
def test_profile_edit_saves_the_whole_profile_or_nothing(as_outsider, world, fields):
    with rolled_back():
        _response, changes = post_and_diff(as_outsider, reverse("members:profile_edit"), fields)

        assert shape(changes) in ({}, {"member": (0, 0, 1)})
        if changes:
            ((old, new),) = changes["member"]["changed"]
            assert old[0] == new[0] == world.users["outsider"].pk
            assert new[1] == fields["display_name"].strip()


@FUZZ
@given(
    fields=st.fixed_dictionaries(
        {"name": odd_text, "summary": odd_text, "cadence": odd_text},
        optional={"practise_here": st.sampled_from(["on", ""]), "confirmed": odd_text},
    )
)
def test_recording_a_cop_is_whole_or_nothing(as_outsider, world, fields):
    with rolled_back():
        _response, changes = post_and_diff(as_outsider, reverse("communities:cop_record"), fields)

        assert shape(changes) in (
            {},
            {"community": (1, 0, 0)},
            {"community": (1, 0, 0), "membership": (1, 0, 0), "event": (1, 0, 0)},
        )
        if changes:
            (cop,) = changes["community"]["added"]
            name, slug, kind, status, stage = cop[:5]
            assert (name, kind, status, stage) == (
                fields["name"].strip(),
                "cop",
                "active",
                "sharing",
            )
            assert Community.objects.filter(slug=slug).count() == 1
            if "membership" in changes:
                assert changes["membership"]["added"][0][2:4] == ["active", "steward"]


@FUZZ
@given(
    fields=st.fixed_dictionaries(
        {"name": odd_text, "purpose": odd_text},
        optional={
            "summary": odd_text,
            "suggested_sponsor": st.one_of(st.sampled_from(KNOWN_PEOPLE), odd_text),
        },
    )
)
def test_proposing_a_kc_is_whole_or_nothing(as_outsider, world, fields):
    with rolled_back():
        _response, changes = post_and_diff(as_outsider, reverse("communities:kc_propose"), fields)

        assert shape(changes) in (
            {},
            {"community": (1, 0, 0), "community_purpose": (1, 0, 0)},
            {"community": (1, 0, 0), "community_purpose": (1, 0, 0), "purpose": (1, 0, 0)},
        )
        if changes:
            (proposal,) = changes["community"]["added"]
            assert proposal[2:5] == ["kc", "proposed", "sharing"]
            assert proposal[6] == world.users["outsider"].member.pk


@FUZZ
@given(
    stage=mostly(st.sampled_from(Community.Stage.values)),
    note=mostly(st.text(max_size=80)),
)
def test_stage_change_with_any_note_is_whole_or_nothing(as_steward, world, stage, note):
    with rolled_back():
        _response, changes = post_and_diff(
            as_steward,
            reverse("communities:stage_set", args=[world.target_slug]),
            {"stage": stage, "note": note},
        )

        assert shape(changes) in ({}, {"community": (0, 0, 1), "stage_change": (1, 0, 0)})
        if changes:
            ((old, new),) = changes["community"]["changed"]
            assert (old[4], new[4]) == ("sharing", stage)


# -- roster CSV import --------------------------------------------------------------------------

GOOD_HEADERS = [
    "email,role",
    "username,role",
    "username,role,note",
    "username,role,state,note",
    "email,username,role,state,note",
    "Email , ROLE",
    '"username","role"',
    "name,email,username,department,role,state,joined,decided_by",  # an export
    "email;role;note",  # Excel where the decimal mark is a comma
    "username\trole",
]
BAD_HEADERS = ["'=email,role", "role", "", "username", "email;role,note", "\x00"]
CELLS = [
    "ada",
    "ADA@example.org",
    "bea",
    "mo",
    "stella",
    "nobody@example.org",
    "member",
    "steward",
    "sponsor",
    "participant",
    "coordinator",
    "overlord",
    "active",
    "left",
    "",
    " ",
    '"',
    '""',
    '"a,b"',
    "=1+1",
    "'=1+1",
    "@SUM(A1)",
    "\ufeff",
    "x" * 5000,
]
LINE_ENDS = ["\n", "\r\n", "\r", "\n\n"]


def quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


PEOPLE_CELLS = ["ada", "ADA@example.org", "bea", "mo", "stella", "nobody@example.org", ""]
ROLE_CELLS = ["member", "steward", "sponsor", "participant", "coordinator", "Steward", "", "x"]
csv_cell = st.one_of(
    mostly(st.sampled_from(CELLS), st.text(max_size=20)),
    st.sampled_from(CELLS).map(quoted),
)
# A row that means something: someone, a role, maybe a state and a note.
meaningful_row = st.tuples(
    st.sampled_from(PEOPLE_CELLS),
    st.sampled_from(ROLE_CELLS),
    st.lists(csv_cell, max_size=2),
).map(lambda row: ",".join([row[0], row[1], *row[2]]))
csv_row = mostly(
    meaningful_row,
    st.one_of(
        st.lists(csv_cell, max_size=5).map(",".join),
        st.tuples(st.sampled_from([";", "\t", "|"]), st.lists(csv_cell, max_size=5)).map(
            lambda pair: pair[0].join(pair[1])
        ),
        # cells and separators jumbled together: stray quotes, bare CRs
        st.lists(
            st.one_of(csv_cell, st.sampled_from([",", '"', "\r", "\n", ",,"])), max_size=8
        ).map("".join),
    ),
)
csv_text = st.builds(
    lambda bom, header, end, rows: bom + header + end + end.join(rows),
    st.sampled_from(["", "\ufeff"]),
    mostly(st.sampled_from(GOOD_HEADERS), st.one_of(st.sampled_from(BAD_HEADERS), csv_row)),
    st.sampled_from(LINE_ENDS),
    st.lists(csv_row, max_size=15),
)
csv_bytes = mostly(
    csv_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.one_of(
        st.binary(max_size=400),
        st.tuples(csv_text, st.sampled_from(["utf-16", "utf-16-le", "latin-1", "cp1252"])).map(
            lambda pair: pair[0].encode(pair[1], "replace")
        ),
        csv_text.map(lambda text: codecs.BOM_UTF8 + text.encode("utf-8", "surrogatepass")),
        csv_text.map(lambda text: text.encode("utf-8", "surrogatepass") + b"\x00"),
    ),
)
file_names = mostly(
    st.just("roster.csv"),
    st.one_of(
        st.sampled_from(["ROSTER.CSV", "roster.txt", "roster.xlsx", "", "a.csv.exe"]),
        st.text(max_size=40).map(lambda name: name + ".csv"),
    ),
)


def read_plan(community, data: bytes, name: str, remove_absent: bool):
    """What the import does with an upload: RosterFileError, or a plan."""
    text = roster_upload.decode_upload(data, name=name)
    return roster_upload.plan_import(community, text, remove_absent=remove_absent)


def assert_well_formed(plan):
    assert isinstance(plan, roster_upload.RosterPlan)
    actions = Counter(row.action for row in plan.rows)
    assert set(actions) <= set(roster_upload.RosterPlan.ACTIONS), actions
    assert sum(plan.totals().values()) == len(plan.rows)
    event(f"planned: {', '.join(sorted(actions)) or 'no rows'}")  # statistics
    for row in plan.rows:
        if row.action in ("add", "change", "unchanged", "remove"):
            assert row.member is not None
        if row.action == "error":
            assert row.message


@FAST_FUZZ
@given(data=csv_bytes, name=file_names, remove_absent=st.booleans())
def test_any_upload_is_refused_with_a_message_or_planned_row_by_row(
    world, data, name, remove_absent
):
    before = rows_snapshot()

    try:
        plan = read_plan(world.target, data, name, remove_absent)
    except roster_upload.RosterFileError as error:
        event("refused")
        assert str(error).strip()
    else:
        assert_well_formed(plan)
    assert rows_snapshot() == before


@FAST_FUZZ
@given(text=csv_text, remove_absent=st.booleans(), community=st.sampled_from(["target", "cop"]))
def test_any_csv_text_is_planned_row_by_row_for_a_kc_and_a_cop(
    world, text, remove_absent, community
):
    community = (
        world.target if community == "target" else Community.objects.get(slug=world.cop_slug)
    )
    before = rows_snapshot()

    try:
        plan = roster_upload.plan_import(community, text, remove_absent=remove_absent)
    except roster_upload.RosterFileError as error:
        event("refused")
        assert str(error).strip()
    else:
        assert_well_formed(plan)
    assert rows_snapshot() == before


@FUZZ
@given(
    data=csv_bytes,
    name=file_names,
    remove_absent=st.sampled_from(["", "on"]),
    mode=st.sampled_from(["", "all_or_nothing", "valid_rows", "all"]),
)
def test_the_import_page_stores_a_preview_or_shows_an_error_and_never_touches_the_roster(
    as_steward, world, data, name, remove_absent, mode
):
    with rolled_back():
        upload = SimpleUploadedFile(name or "roster", data, "text/csv")
        path = reverse("communities:roster_import", args=[world.target_slug])

        response, changes = post_and_diff(
            as_steward, path, {"file": upload, "remove_absent": remove_absent, "mode": mode}
        )

        assert shape(changes) in ({}, {"roster_import": (1, 0, 0)})
        if response.status_code == 302:
            assert changes, "redirected to a preview that was not stored"
            preview = as_steward.get(response.url)
            assert preview.status_code == 200
        else:
            assert response.status_code == 200
            assert not changes
            assert 'class="invalid-feedback' in response.content.decode() or "alert" in (
                response.content.decode()
            )
