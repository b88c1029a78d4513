"""Every page kind is valid HTML: the W3C Nu HTML checker (``vnu.jar``, from the
``vnu-jar`` npm package) reports no error on any of them.

The pages are rendered through the test client for each role that sees different
markup (someone signed out, a member of staff, a steward, a directory admin), with
empty states and forms sent back with errors, written to one temporary folder and
checked in one run of the checker: its JVM takes a second or two to start, so it
starts once, not once a page.
"""

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from background.jobs import attach_file
from background.models import Job, OutboxMessage
from communities import services
from communities.models import Community, Membership

from .browser.test_csp_and_a11y import ADMIN_PAGES, ANONYMOUS_PAGES, STAFF_PAGES, _world
from .factories import member_named

VNU_JAR = Path(settings.BASE_DIR) / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

# The Django admin draws its own markup (Django's templates, not kcdir's).
NOT_OURS = {"admin-index", "admin-changelist", "admin-changeform", "admin-member-changelist"}

KC = "claims-turnaround"
COP = "sql-clinic"


def _nu_checker() -> list[str]:
    java = shutil.which("java")
    if java is None:
        pytest.skip("the HTML check needs Java (apt-get install default-jre-headless)")
    if not VNU_JAR.exists():
        pytest.skip(f"the HTML check needs {VNU_JAR} (npm ci installs the vnu-jar package)")
    return [java, "-Xss4m", "-jar", str(VNU_JAR)]


def nu_errors(files: list[Path]) -> list[dict]:
    """Run the checker once over ``files``; return its errors (warnings are not)."""
    command = [*_nu_checker(), "--format", "json", "--stdout", *map(str, files)]
    completed = subprocess.run(  # noqa: S603 (our own java and jar, files we wrote)
        command, capture_output=True, text=True, timeout=300, check=False
    )
    report = json.loads(completed.stdout or "{}")
    if "messages" not in report:
        raise AssertionError(f"vnu gave no report: {completed.stderr[-2000:]}")
    return [m for m in report["messages"] if m.get("type") in {"error", "non-document-error"}]


def describe(errors: list[dict]) -> str:
    lines = []
    for error in errors:
        file = Path(error.get("url", "").removeprefix("file:")).name
        line = error.get("lastLine", "?")
        lines.append(f"{file}:{line}: {error.get('message')}")
        if error.get("extract"):
            lines.append(f"    {error['extract'].strip()[:200]}")
    return "\n".join(lines)


class Pages:
    """Collects rendered pages as files in ``folder``, one per name."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: list[Path] = []

    def add(self, name: str, response, expected: int = 200):
        assert response.status_code == expected, f"{name} answered {response.status_code}"
        assert response["Content-Type"].startswith("text/html"), name
        content = b"".join(response.streaming_content) if response.streaming else response.content
        path = self.folder / f"{name}.html"
        path.write_bytes(content)
        self.files.append(path)


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _render_catalogue(pages: Pages, client: Client, catalogue: dict, world, prefix: str):
    expected = {"not-found": 404, "staff-forbidden-403": 403}
    for page_id, make_path in catalogue.items():
        if page_id in NOT_OURS:
            continue
        try:
            path = make_path(world)
        except NoReverseMatch:
            continue  # not in this URLconf
        response = client.get(path, follow=True)  # the reset link hops once
        pages.add(f"{prefix}{page_id}", response, expected.get(page_id, 200))


def _forms_with_errors(pages: Pages, admin: Client, steward: Client, staff: Client):
    """Each form sent back with its errors shown."""
    sent = {
        "error-new-kc": (admin, reverse("communities:community_create"), {"name": ""}),
        "error-edit-kc": (steward, reverse("communities:community_edit", args=[KC]), {"name": ""}),
        "error-record-cop": (staff, reverse("communities:cop_record"), {"name": ""}),
        "error-propose-kc": (staff, reverse("communities:kc_propose"), {"name": ""}),
        "error-profile": (staff, reverse("members:profile_edit"), {"display_name": ""}),
        "error-password-change": (
            staff,
            reverse("password_change"),
            {"old_password": "wrong", "new_password1": "a", "new_password2": "b"},
        ),
        "error-add-members": (
            steward,
            reverse("communities:members_add", args=[KC]),
            {"mode": "add", "pasted": ""},
        ),
        "error-formalise": (admin, reverse("communities:community_formalise", args=[COP]), {}),
        "error-rules": (
            steward,
            reverse("communities:community_rules", args=[KC]),
            {"name": "", "action": "preview"},
        ),
        "rules-preview": (
            steward,
            reverse("communities:community_rules", args=[KC]),
            {"name": "Analysts", "mode": "strict", "job_title_1": "a", "action": "preview"},
        ),
    }
    for name, (client, path, data) in sent.items():
        pages.add(name, client.post(path, data))
    pages.add(
        "error-sign-in",
        Client().post(reverse("login"), {"username": "staff", "password": "not it"}),
    )


def test_every_page_kind_is_valid_html(db, tmp_path):
    _nu_checker()  # skip before building the world if the checker cannot run
    world = _world()
    # The stage history (a <time> with the change's instant) shows once there is one.
    top = Community.Stage.COMMON_GOOD
    services.set_stage(community=world["kc"], actor=world["admin"], stage=top)
    pages = Pages(tmp_path)
    admin = _signed_in(world["admin"].user)
    staff = _signed_in(world["sam"].user)
    steward_member = world["kc"].memberships.get(role=Membership.Role.STEWARD).member
    steward = _signed_in(steward_member.user)

    # An end date on a row and a review open, for the pages that show them.
    tess = member_named("Tess Term", username="tess")
    services.add_members(community=world["kc"], members=[tess], actor=steward_member, invite=False)
    tess_membership = world["kc"].memberships.get(member=tess)
    services.set_membership_term(
        community=world["kc"],
        membership=tess_membership,
        ends_on=timezone.localdate() + timedelta(days=60),
        actor=steward_member,
    )
    review = services.start_review(
        community=world["kc"], due_on=timezone.localdate() + timedelta(days=14), actor=None
    )
    services.confirm_members(
        review=review, membership_ids=[tess_membership.pk], actor=steward_member
    )
    _render_catalogue(pages, admin, ADMIN_PAGES, world, "admin-")
    _render_catalogue(pages, staff, STAFF_PAGES, world, "")
    _render_catalogue(pages, Client(), ANONYMOUS_PAGES, world, "anonymous-")
    for name, path in {
        "steward-community": reverse("communities:community_detail", args=[KC]),
        "steward-manage": reverse("communities:community_manage", args=[KC]),
        "steward-edit": reverse("communities:community_edit", args=[KC]),
        "steward-history": reverse("communities:community_history", args=[KC]),
        "steward-add-members": reverse("communities:members_add", args=[KC]),
        "steward-review": reverse("communities:review_detail", args=[KC]),
        "steward-review-remove": reverse(
            "communities:review_remove", args=[KC, tess_membership.pk]
        ),
        "steward-review-outcome": reverse("communities:review_outcome", args=[KC, review.pk]),
        "steward-rules": reverse("communities:community_rules", args=[KC]),
        "staff-directory": reverse("communities:community_list"),
        "staff-people": reverse("members:member_list"),
        "staff-person-other": reverse("members:member_detail", args=["steward"]),
        "staff-ladder": reverse("communities:ladder"),
    }.items():
        client = steward if name.startswith("steward") else staff
        pages.add(name, client.get(path))

    pages.add("admin-review", admin.get(reverse("communities:review_detail", args=[KC])))
    pages.add(
        "member-my-communities-until",
        _signed_in(tess.user).get(reverse("members:my_communities")),
    )
    OutboxMessage.objects.create(
        recipients=["nina@example.org"],
        subject="You are now in Claims Turnaround",
        body="",
        from_email="kcdir@localhost",
        state=OutboxMessage.State.FAILED,
        attempts=8,
        last_error="SMTPServerDisconnected: Connection unexpectedly closed",
    )
    pages.add("admin-dashboard-failed-emails", admin.get(reverse("communities:dashboard")))
    for state in Job.State.values:
        job = Job.objects.create(
            label="Roster import of people.csv into Claims Turnaround",
            state=state,
            total=12000,
            result="Import applied: 12000 added, 0 roles changed, 0 removed.",
            error="The roster changed since the preview, so nothing was applied.",
            started_by=steward_member.user,
            return_url=reverse("communities:community_manage", args=[KC]),
        )
        if state == Job.State.DONE:
            attach_file(job, name="kcdir-memberships.csv", content_type="text/csv", chunks=[b"a"])
        pages.add(f"steward-job-{state}", steward.get(job.get_absolute_url()))

    newcomer = _signed_in(member_named("Nina Newcomer", username="nina").user)
    for name, path in {
        "empty-my-communities": reverse("members:my_communities"),
        "empty-own-profile": reverse("members:member_detail", args=["nina"]),
        "empty-people-search": reverse("members:member_list") + "?q=nobody-is-called-this",
        "empty-purposes-search": reverse("communities:purpose_list") + "?q=nothing-like-this",
    }.items():
        pages.add(name, newcomer.get(path))
    _forms_with_errors(pages, admin, steward, staff)

    errors = nu_errors(pages.files)

    assert len(pages.files) > 60
    if errors:
        pytest.fail(f"{len(errors)} HTML errors:\n{describe(errors)}", pytrace=False)


def test_the_checker_finds_an_error(tmp_path):
    """The check can fail: a form inside a span is reported."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!doctype html><html lang="en"><head><title>x</title></head><body>'
        '<span><form action="/x"><button>Go</button></form></span>'
        '<time datetime="2024-03-24T06:54:46.729448+00:00">then</time></body></html>'
    )
    messages = [error["message"] for error in nu_errors([bad])]
    assert any("form" in message and "span" in message for message in messages), messages
    assert any("fraction of a second" in message for message in messages), messages
