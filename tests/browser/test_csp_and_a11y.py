"""Every page a person can reach: no Content Security Policy violation, and no
serious or critical accessibility violation found by axe-core.

axe-core comes inside the ``axe-playwright-python`` package (nothing downloads at
run time). The pages are signed in as a directory admin who is also a superuser, so
each one is reachable; the data is made with the factories and the services, so
every page has something on it (a waiting request, history, an import to preview,
a proposal to decide).
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from background.models import Job, OutboxMessage
from communities import access, services
from communities.models import Community, Membership

from ..factories import (
    CommunityFactory,
    DepartmentFactory,
    MembershipFactory,
    PurposeFactory,
    led_kc,
    member_named,
)
from .conftest import CHROMIUM, PHONE, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect
Axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    # live_server needs committed data; serialized_rollback is meant to put back what
    # the migrations created for the tests after (see _directory_admins_group).
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BLOCKING_IMPACTS = {"serious", "critical"}

# Recorded in every document before its own scripts run; read back after load.
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push({
    directive: event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
  });
});
"""


def _directory_admins_group() -> Group:
    """The group migration 0002 makes, made again here if it is missing.

    serialized_rollback should bring it back after each flush, but it does not when
    a plain ``db`` test ran earlier in the session: the connection seen once the
    Playwright session has started lacks ``_test_serialized_contents`` (see
    docs/RELIABILITY.md). The content type is looked up without the cache, whose
    ids a flush may have made stale.
    """
    ContentType.objects.clear_cache()
    content_type, _created = ContentType.objects.get_or_create(
        app_label="communities", model="community"
    )
    permission, _created = Permission.objects.get_or_create(
        content_type=content_type,
        codename=access.MANAGE_DIRECTORY_PERMISSION.split(".")[1],
        defaults={"name": "Can curate every community (directory admin)"},
    )
    group, _created = Group.objects.get_or_create(name=access.DIRECTORY_ADMINS_GROUP)
    group.permissions.add(permission)
    return group


def _world():
    """Communities of every kind and state, and a directory admin who may see all."""
    admin = member_named("Dana Admin", username="dana")
    admin.user.is_staff = True
    admin.user.is_superuser = True
    admin.user.save()
    admin.user.groups.add(_directory_admins_group())

    claims = DepartmentFactory(name="Claims", slug="claims")
    future = PurposeFactory(statement="Cut claim turnaround to two days", slug="cut-turnaround")
    steward = member_named("Stella Steward", username="steward", department=claims)
    kc = led_kc(
        sponsor=member_named("Spencer Sponsor"),
        steward=steward,
        name="Claims Turnaround",
        slug="claims-turnaround",
        summary="Paying customers in two days.",
        join_policy=Community.JoinPolicy.REQUEST,
        stage=Community.Stage.COMMUNITY,
        purposes=[future],
    )
    sam = member_named("Sam Staff", username="staff", department=claims, expertise="SQL, pricing")
    services.request_membership(community=kc, member=sam, note="I price flood risk.")
    priya = member_named("Priya Patel", username="priya")
    services.add_members(community=kc, members=[priya], actor=steward, invite=False)
    services.remove_member(
        community=kc,
        membership=kc.memberships.get(member=priya),
        actor=steward,
        reason="Moved team",
    )
    invite_only = led_kc(
        sponsor=member_named("Ivy Sponsor"),
        steward=member_named("Ian Steward"),
        name="Ombudsman Zero",
        slug="ombudsman-zero",
        join_policy=Community.JoinPolicy.INVITE,
    )
    services.add_members(community=invite_only, members=[sam], actor=admin, invite=True)

    cop = CommunityFactory(
        kind=Community.Kind.COP,
        name="SQL Clinic",
        slug="sql-clinic",
        summary="Bring a slow query; leave with a better one.",
        stage=Community.Stage.COOPERATION,
        purposes=[PurposeFactory(statement="Bring new analysts up to speed")],
    )
    MembershipFactory(member=sam, community=cop, role=Membership.Role.STEWARD)
    duplicate = CommunityFactory(
        name="SQL Clinic North", slug="sql-clinic-north", kind=Community.Kind.COP
    )
    services.merge_communities(source=duplicate, target=cop, actor=admin)
    surgery = CommunityFactory(name="SQL Surgery", slug="sql-surgery", kind=Community.Kind.COP)
    MembershipFactory(member=steward, community=surgery, role=Membership.Role.STEWARD)
    CommunityFactory(
        name="Old Pricing Forum", slug="old-pricing-forum", status=Community.Status.ARCHIVED
    )

    services.propose_kc(
        actor=sam, name="Flood Pricing", purpose_statement="Price flood risk street by street"
    )
    pending = services.preview_roster_import(
        community=kc,
        actor=admin,
        file_name="spring-roster.csv",
        text="email,role\r\npriya@example.org,member\r\nghost@example.org,member\r\n",
        remove_absent=False,
    )
    # The dashboard's failed emails, and a long action's page (done: a running one
    # refreshes itself every two seconds, under the checks' feet).
    OutboxMessage.objects.create(
        recipients=["priya@example.org"],
        subject="You are now in Claims Turnaround",
        body="",
        from_email="kcdir@localhost",
        state=OutboxMessage.State.FAILED,
        attempts=8,
        last_error="SMTPServerDisconnected: Connection unexpectedly closed",
    )
    job = Job.objects.create(
        label="Adding 1200 people to Claims Turnaround",
        state=Job.State.DONE,
        total=1200,
        done=1200,
        result="Added: 1200. Already on the list: 0.",
        started_by=admin.user,
        return_url=reverse("communities:community_manage", args=[kc.slug]),
    )
    return {"admin": admin, "kc": kc, "cop": cop, "sam": sam, "pending": pending, "job": job}


def _membership_pk(world):
    return world["kc"].memberships.get(role=Membership.Role.STEWARD).pk


def _path(name, *args, query=""):
    """A path builder: ``reverse(name, args)`` once the world exists."""
    return lambda world: reverse(name, args=[a(world) if callable(a) else a for a in args]) + query


KC = "claims-turnaround"
COP = "sql-clinic"

# Every page the directory admin can reach, by id. Names that do not resolve (pages
# that are not wired into the URLconf in this checkout) skip.
ADMIN_PAGES = {
    "directory": _path("communities:community_list"),
    "directory-filtered": _path(
        "communities:community_list",
        query="?q=claims&kind=kc&stage=community&purpose=cut-turnaround&department=claims",
    ),
    "directory-empty": _path("communities:community_list", query="?q=nothing-matches-this"),
    "community-kc": _path("communities:community_detail", KC),
    "community-kc-roster-search": _path("communities:community_detail", KC, query="?q=stella"),
    "community-invite-only": _path("communities:community_detail", "ombudsman-zero"),
    "community-cop": _path("communities:community_detail", COP),
    "community-proposed": _path("communities:community_detail", "flood-pricing"),
    "community-merged": _path("communities:community_detail", "sql-clinic-north"),
    "community-archived": _path("communities:community_detail", "old-pricing-forum"),
    "manage-membership": _path("communities:community_manage", KC),
    "manage-membership-filtered": _path(
        "communities:community_manage", KC, query="?q=stella&state=active"
    ),
    "manage-membership-invited": _path(
        "communities:community_manage", "ombudsman-zero", query="?state=invited"
    ),
    "withdraw-invitation": _path(
        "communities:invitation_withdraw",
        "ombudsman-zero",
        lambda w: w["sam"].memberships.get(community__slug="ombudsman-zero").pk,
    ),
    "add-members": _path("communities:members_add", KC),
    "edit-community-kc": _path("communities:community_edit", KC),
    "edit-community-cop": _path("communities:community_edit", COP),
    "add-members-search": _path("communities:members_add", KC, query="?q=Sam"),
    "remove-member": _path(
        "communities:membership_remove",
        KC,
        lambda w: w["kc"].memberships.get(role=Membership.Role.STEWARD).pk,
    ),
    "leave": _path("communities:membership_leave", COP),
    "import-csv": _path("communities:roster_import", KC),
    "import-preview": _path("communities:roster_import_preview", KC, lambda w: w["pending"].pk),
    "history-community": _path("communities:community_history", KC),
    "history-community-filtered": _path(
        "communities:community_history", KC, query="?action=removed"
    ),
    "history-person": _path("members:member_history", "priya"),
    "my-communities": _path("members:my_communities"),
    "people": _path("members:member_list"),
    "people-filtered": _path("members:member_list", query="?q=sql&department=claims"),
    "person": _path("members:member_detail", "staff"),
    "profile-edit": _path("members:profile_edit"),
    "purposes": _path("communities:purpose_list"),
    "purposes-search": _path("communities:purpose_list", query="?q=claim"),
    "purpose": _path("communities:purpose_detail", "cut-turnaround"),
    "ladder": _path("communities:ladder"),
    "ladder-filtered": _path("communities:ladder", query="?kind=kc&department=claims"),
    "dashboard": _path("communities:dashboard"),
    "job-done": _path("background:job_detail", lambda world: world["job"].pk),
    "new-kc": _path("communities:community_create"),
    "record-cop": _path("communities:cop_record"),
    "propose-kc": _path("communities:kc_propose"),
    "formalise": _path("communities:community_formalise", COP),
    "proposal-decide": _path("communities:proposal_decide", "flood-pricing"),
    "merge": _path("communities:community_merge", COP),
    "merge-search": _path("communities:community_merge", "sql-surgery", query="?q=sql"),
    "merge-preview": lambda world: (
        reverse("communities:community_merge", args=["sql-surgery"])
        + f"?target={world['cop'].pk}&keep_roles=on"
    ),
    "password-change": _path("password_change"),
    "password-change-done": _path("password_change_done"),
    "not-found": lambda world: "/c/no-such-community/",
    "knowledge-map": _path("communities:knowledge_map"),
    "insights": _path("communities:insights"),
    "connectors": _path("communities:connectors"),
    "expertise": _path("communities:expertise"),
    "admin-index": _path("admin:index"),
    "admin-changelist": _path("admin:communities_community_changelist"),
    "admin-changeform": _path("admin:communities_community_change", lambda w: w["kc"].pk),
    "admin-member-changelist": _path("admin:members_member_changelist"),
}

# What a plain member of staff sees that an admin does not.
STAFF_PAGES = {
    "staff-community-invited": _path("communities:community_detail", "ombudsman-zero"),
    "staff-community-requested": _path("communities:community_detail", KC),
    "staff-my-communities": _path("members:my_communities"),
    "staff-own-profile": _path("members:member_detail", "staff"),
    "staff-forbidden-403": _path("communities:dashboard"),
}

# What someone who has not signed in can reach.
ANONYMOUS_PAGES = {
    "sign-in": _path("login"),
    "password-reset": _path("password_reset"),
    "password-reset-done": _path("password_reset_done"),
    "password-reset-confirm": _path(
        "password_reset_confirm",
        lambda w: urlsafe_base64_encode(force_bytes(w["sam"].user.pk)),
        lambda w: default_token_generator.make_token(w["sam"].user),
    ),
    "password-reset-complete": _path("password_reset_complete"),
}

DARK_PAGES = {
    page_id: ADMIN_PAGES[page_id]
    for page_id in ("directory", "community-kc", "community-cop", "manage-membership")
}

# Findings reported for a template or CSS fix, each marked xfail(strict=True) for its
# page only: an unexpected rule on that page still fails, and the fix shows up as an
# XPASS that fails the run until the entry is removed. {page id: (reason, rule ids)}.
KNOWN_FINDINGS = {
    "light": {},
    "dark": {},
    "staff": {},
    "anonymous": {},
}


class AxeFindings(AssertionError):
    """Serious or critical axe violations, all of them known for this page."""


def _params(pages: dict, known: dict):
    params = []
    for page_id, make_path in pages.items():
        reason, rules = known.get(page_id, ("", set()))
        marks = [pytest.mark.xfail(strict=True, raises=AxeFindings, reason=reason)] if rules else []
        params.append(pytest.param(make_path, frozenset(rules), id=page_id, marks=marks))
    return params


# Signed in by session cookie, not conftest's sign_in: these check pages, not signing in.
@pytest.fixture
def signed_in_context(browser, live_server):
    """Makes browser contexts signed in as a given user, listening for CSP violations."""
    contexts = []

    def make(user, **options):
        client = Client()
        client.force_login(user)
        context = browser.new_context(locale="en-GB", **options)
        context.set_default_timeout(10_000)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def anonymous_context(browser):
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)
    yield context
    context.close()


def _open(context, url):
    """Load ``url``; return the page, the CSP messages its console shows and the
    HTTP status it answered with."""
    page = context.new_page()
    console = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    response = page.goto(url)
    page.wait_for_load_state("load")
    return page, console, response.status if response else None


def _describe(violations) -> str:
    lines = []
    for violation in violations:
        targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"])
        lines.append(f"{violation['id']} ({violation['impact']}): {targets}")
        lines.append(f"    {violation['help']}")
        for node in violation["nodes"][:4]:
            lines.append(f"    {node['html'][:160]}")
            checks = node.get("any", []) + node.get("all", []) + node.get("none", [])
            lines.extend(f"      - {check['message']}" for check in checks[:2])
    return "\n".join(lines)


def check_page(page, console, known_rules=frozenset()):
    """No CSP violation (event or console); no serious or critical axe finding.

    Findings whose rules are all in ``known_rules`` raise ``AxeFindings`` (the
    page's xfail); any other finding fails outright.
    """
    # CSP first, so nothing axe injects can be counted against the page.
    events = page.evaluate("window.__csp || []")
    assert not events, f"CSP violations on {page.url}: {events}"
    assert not console, f"CSP messages on the console of {page.url}: {console}"
    violations = Axe().run(page).response["violations"]
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    if not blocking:
        return
    message = f"axe on {page.url}:\n{_describe(blocking)}"
    if {v["id"] for v in blocking} <= known_rules:
        raise AxeFindings(message)
    raise AssertionError(message)


# Every page answers 200 but these (and none redirects to sign-in).
EXPECTED_STATUS = {"not-found": 404, "staff-forbidden-403": 403}


def _visit(request, context, live_server, world, make_path):
    try:
        path = make_path(world)
    except NoReverseMatch as error:
        pytest.skip(f"not in this URLconf: {error}")
    page, console, status = _open(context, live_server.url + path)
    expected = EXPECTED_STATUS.get(request.node.callspec.id, 200)
    assert status == expected, f"{path} answered {status}"
    if "/accounts/login/" not in path:
        assert "/accounts/login/" not in page.url, f"{path} sent the browser to sign in"
    return page, console


@pytest.mark.parametrize(
    ("make_path", "known_rules"), _params(ADMIN_PAGES, KNOWN_FINDINGS["light"])
)
def test_page_has_no_csp_violation_and_no_serious_axe_finding(
    request, live_server, signed_in_context, make_path, known_rules
):
    world = _world()
    context = signed_in_context(world["admin"].user)
    page, console = _visit(request, context, live_server, world, make_path)
    check_page(page, console, known_rules)


@pytest.mark.parametrize(
    ("make_path", "known_rules"), _params(STAFF_PAGES, KNOWN_FINDINGS["staff"])
)
def test_staff_page_has_no_csp_violation_and_no_serious_axe_finding(
    request, live_server, signed_in_context, make_path, known_rules
):
    world = _world()
    context = signed_in_context(world["sam"].user)
    page, console = _visit(request, context, live_server, world, make_path)
    check_page(page, console, known_rules)


@pytest.mark.parametrize(("make_path", "known_rules"), _params(DARK_PAGES, KNOWN_FINDINGS["dark"]))
def test_dark_mode_page_has_no_csp_violation_and_no_serious_axe_finding(
    request, live_server, signed_in_context, make_path, known_rules
):
    world = _world()
    context = signed_in_context(world["admin"].user, color_scheme="dark")
    page, console = _visit(request, context, live_server, world, make_path)
    assert page.evaluate("document.documentElement.dataset.bsTheme") == "dark"
    check_page(page, console, known_rules)


@pytest.mark.parametrize(
    ("make_path", "known_rules"), _params(ANONYMOUS_PAGES, KNOWN_FINDINGS["anonymous"])
)
def test_public_page_has_no_csp_violation_and_no_serious_axe_finding(
    request, live_server, anonymous_context, make_path, known_rules
):
    world = {"sam": member_named("Sam Staff", username="staff")}
    page, console = _visit(request, anonymous_context, live_server, world, make_path)
    check_page(page, console, known_rules)


def test_sign_in_error_has_no_csp_violation_and_no_serious_axe_finding(
    live_server, anonymous_context
):
    member_named("Sam Staff", username="staff")
    page, console, _status = _open(anonymous_context, live_server.url + reverse("login"))
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
    check_page(page, console)


def test_sign_in_page_in_dark_mode_has_no_csp_violation_and_no_serious_axe_finding(
    live_server, browser
):
    context = browser.new_context(locale="en-GB", color_scheme="dark")
    context.add_init_script(CSP_LISTENER)
    try:
        page, console, _status = _open(context, live_server.url + reverse("login"))
        check_page(page, console)
    finally:
        context.close()


def test_locked_out_page_has_no_csp_violation_and_no_serious_axe_finding(
    live_server, anonymous_context, settings
):
    member_named("Sam Staff", username="staff")
    page, console, _status = _open(anonymous_context, live_server.url + reverse("login"))
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill("staff")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("load")
    expect(page.get_by_role("heading", name="Too many failed sign-ins")).to_be_visible()
    check_page(page, console)


# The pages whose layout changes on a phone (actions first, rows stacked, filters folded).
PHONE_PAGES = {
    page_id: ADMIN_PAGES[page_id]
    for page_id in (
        "directory",
        "directory-filtered",
        "community-kc",
        "community-cop",
        "manage-membership",
        "dashboard",
        "my-communities",
        "person",
    )
}


@pytest.mark.parametrize(("make_path", "known_rules"), _params(PHONE_PAGES, {}))
def test_phone_page_has_no_csp_violation_and_no_serious_axe_finding(
    request, live_server, signed_in_context, make_path, known_rules
):
    world = _world()
    context = signed_in_context(world["admin"].user, viewport=PHONE)
    page, console = _visit(request, context, live_server, world, make_path)
    check_page(page, console, known_rules)
