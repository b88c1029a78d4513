"""Who may do what, for every URL the project serves: a matrix read from the URLconf.

``MATRIX`` holds, for every named URL pattern, the expected answer to GET and POST for
each role. ``test_every_url_has_a_matrix_entry`` walks ``get_resolver()``, so a new URL
without an entry fails until someone decides who may use it. Each cell is one test with
fresh data (the ``world`` fixture in ``conftest.py``); every refusal (403, 404, 405, or
anonymous sent to sign in) also checks that the database and the outbox did not change.

Roles, relative to the community a URL names (its "target"):

- ``anonymous``: not signed in;
- ``staff``: an employee who is a plain member of another community;
- ``outsider``: signed in, in no community at all;
- ``member``: an active member of the target (a participant, for the CoP);
- ``steward_other``: a steward of another community;
- ``steward``: a steward of the target (the coordinator, for the CoP);
- ``directory_admin``: in the "Directory admins" group;
- ``superuser``: Django superuser (every permission, so a directory admin too).

The Django admin (``admin:*``) is left out of the matrix and covered by
``test_admin_site_*`` below.
"""

import hashlib
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from background.models import Job, OutboxMessage
from communities import services
from communities.models import (
    Community,
    CommunityTerm,
    Membership,
    MembershipEvent,
    MembershipTerm,
    Purpose,
    Review,
    ReviewItem,
    ReviewSchedule,
    RosterImport,
    StageChange,
)
from members.models import Department, Member

from .factories import PASSWORD

pytestmark = pytest.mark.django_db

User = get_user_model()
LOGIN_PATH = reverse("login")
ROLES = [
    "anonymous",
    "staff",
    "outsider",
    "member",
    "steward_other",
    "steward",
    "directory_admin",
    "superuser",
]
SIGNED_IN = ROLES[1:]
CURATORS = {"steward", "directory_admin", "superuser"}
ADMINS = {"directory_admin", "superuser"}
METHODS = ("GET", "POST")


# -- the URLconf ----------------------------------------------------------------------


def url_names(patterns=None, namespace: tuple[str, ...] = ()) -> set[str]:
    """Every URL pattern's full name ("communities:membership_join"); an unnamed pattern
    shows as "<unnamed pattern: route>", so it cannot hide from the matrix either."""
    names = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespace, pattern.namespace) if pattern.namespace else namespace
            names |= url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or f"<unnamed pattern: {pattern.pattern}>"
            names.add(":".join((*namespace, name)))
    return names


def project_url_names() -> set[str]:
    return {name for name in url_names() if not name.startswith("admin:")}


# -- expected outcomes ----------------------------------------------------------------

LOGIN = "sign-in"  # 302 to the sign-in page, with ?next= the page asked for


@dataclass(frozen=True)
class Redirect:
    """302 to ``to`` (formatted with the world's names and ``me``, the user's username);
    with ``prefix``, any address starting with it."""

    to: str
    prefix: bool = False


REFUSALS = {403, 404, 405, LOGIN}


def everyone(outcome, *, anonymous=LOGIN) -> dict:
    return {"anonymous": anonymous, **dict.fromkeys(SIGNED_IN, outcome)}


def only(allowed_roles: set[str], outcome, *, others=403) -> dict:
    return {
        "anonymous": LOGIN,
        **{role: outcome if role in allowed_roles else others for role in SIGNED_IN},
    }


def per_role(base: dict, **overrides) -> dict:
    return {**base, **overrides}


def page() -> dict:
    """A page any signed-in person may see (a POST just shows it again)."""
    return {"methods": {"GET": everyone(200), "POST": everyone(200)}}


def get_only_page(args=()) -> dict:
    """A read-only page for any signed-in person; its view refuses POST."""
    return {"args": args, "methods": {"GET": everyone(200), "POST": everyone(405)}}


def staff_action(data=None) -> dict:
    """A POST-only action on one's own membership of the target."""
    return {
        "args": ("target_slug",),
        "methods": {"GET": everyone(405), "POST": everyone(Redirect("{target_url}"))},
        "data": data or (lambda w: {}),
    }


def curator_page(args, *, post=200, data=None, writes=False) -> dict:
    return {
        "args": args,
        "methods": {"GET": only(CURATORS, 200), "POST": only(CURATORS, post)},
        "data": data or (lambda w: {}),
        "writes": writes,
    }


def admin_page(args=(), *, post=200, data=None, writes=False) -> dict:
    return {
        "args": args,
        "methods": {"GET": only(ADMINS, 200), "POST": only(ADMINS, post)},
        "data": data or (lambda w: {}),
        "writes": writes,
    }


def roster_file(w) -> dict:
    return {
        "file": SimpleUploadedFile(
            "roster.csv", f"username,role\n{w.ada.user.username},member\n".encode(), "text/csv"
        )
    }


CORE_MATRIX = {
    "healthz": {
        "methods": {"GET": everyone(200, anonymous=200), "POST": everyone(405, anonymous=405)}
    },
    # -- the directory and Botkin's model
    "communities:community_list": page(),
    "communities:community_create": admin_page(
        post=Redirect("/c/tidal-forecasting/"),
        data=lambda w: {
            "name": "Tidal Forecasting",
            "summary": "Forecasting tides a week ahead.",
            "description": "",
            "join_policy": "request",
            "purposes": [w.purpose.pk],
            "sponsor": w.ada.user.username,
            "stewards": w.bea.user.username,
            "confirmed": "True",  # past the similar communities (Pricing Council)
        },
        writes=True,
    ),
    "communities:cop_record": {
        "methods": {"GET": everyone(200), "POST": everyone(Redirect("/c/zymurgy-circle/"))},
        "data": lambda w: {"name": "Zymurgy Circle", "summary": "Brewing, scientifically."},
        "writes": True,
    },
    "communities:kc_propose": {
        "methods": {"GET": everyone(200), "POST": everyone(Redirect("/me/communities/"))},
        "data": lambda w: {"name": "Glacier Watch", "purpose": "Map every glacier by 2030"},
        "writes": True,
    },
    "communities:ladder": page(),
    "communities:community_detail": {"args": ("target_slug",), **page()},
    "communities:proposal_decide": admin_page(
        ("proposal_slug",),
        post=Redirect("{proposal_url}"),
        data=lambda w: {
            "decision": "approve",
            "sponsor": w.ada.user.username,
            "stewards": w.bea.user.username,
            "join_policy": "request",
        },
        writes=True,
    ),
    "communities:community_formalise": {
        "args": ("cop_slug",),
        "methods": {
            "GET": only(CURATORS, 200),
            "POST": per_role(
                only(CURATORS, Redirect("/c/sql-council/")),
                steward=Redirect("{cop_url}"),  # a coordinator proposes; admins formalise
            ),
        },
        "data": lambda w: {
            "name": "SQL Council",
            "purposes": [w.purpose.pk],
            "new_purpose": "",
            "sponsor": w.ada.user.username,
            "stewards": w.bea.user.username,
            "join_policy": "request",
            "participants": "invite",
            "confirmed": "True",  # past the similar communities
        },
        "writes": True,
    },
    "communities:community_merge": admin_page(
        ("target_slug",),
        post=Redirect("{other_url}"),
        data=lambda w: {
            "target": w.other.pk,
            "fingerprint": services.plan_merge(source=w.target, target=w.other).fingerprint,
        },
        writes=True,
    ),
    "communities:stage_set": {
        "args": ("target_slug",),
        "methods": {"GET": everyone(405), "POST": only(CURATORS, Redirect("{target_url}"))},
        "data": lambda w: {"stage": "cooperation", "note": "We share systematically now."},
        "writes": True,
    },
    "communities:community_edit": curator_page(
        ("target_slug",),
        post=Redirect("{target_url}"),
        data=lambda w: {
            "summary": "Claims paid in two days, everywhere.",
            "description": "",
            "purposes": [w.purpose.pk],
            "new_purpose": "",
            "new_purpose_orientation": "shape_future",
            "join_policy": "open",
            "cadence": "",
            "links": "",
            "version": Community.objects.get(pk=w.target.pk).updated_at.isoformat(),
        },
        writes=True,
    ),
    # -- one's own membership
    "communities:membership_join": staff_action(),
    "communities:membership_request": staff_action(lambda w: {"note": "I work on this."}),
    "communities:membership_cancel": staff_action(),
    "communities:invitation_accept": staff_action(),
    "communities:invitation_decline": staff_action(),
    "communities:membership_leave": {
        "args": ("target_slug",),
        "methods": {"GET": everyone(200), "POST": everyone(Redirect("{target_url}"))},
    },
    # -- curating
    "communities:community_manage": curator_page(("target_slug",)),
    "communities:requests_decide": {
        "args": ("target_slug",),
        "methods": {"GET": everyone(405), "POST": only(CURATORS, Redirect("{manage_url}"))},
        "data": lambda w: {"one": f"approve:{w.pending.pk}"},
        "writes": True,
    },
    "communities:members_add": curator_page(
        ("target_slug",),
        data=lambda w: {"pasted": w.ada.user.username, "mode": "add"},
        writes=True,
    ),
    "communities:membership_role": {
        "args": ("target_slug", "mo_membership_pk"),
        "methods": {"GET": everyone(405), "POST": only(CURATORS, Redirect("{manage_url}"))},
        "data": lambda w: {"role": "steward"},
        "writes": True,
    },
    "communities:membership_remove": curator_page(
        ("target_slug", "mo_membership_pk"),
        post=Redirect("{manage_url}"),
        data=lambda w: {"note": "Moved on."},
        writes=True,
    ),
    "communities:membership_term": {
        "args": ("target_slug", "mo_membership_pk"),
        "methods": {
            "GET": everyone(405),
            "POST": only(CURATORS, Redirect("{manage_url}")),
        },
        "data": lambda w: {"ends_on": "2099-12-31"},
        "writes": True,
    },
    "communities:community_term": {
        "args": ("target_slug",),
        "methods": {"GET": everyone(405), "POST": only(CURATORS, Redirect("{target_url}edit/"))},
        "data": lambda w: {"months": "12"},
        "writes": True,
    },
    "communities:invitation_resend": {
        "args": ("target_slug", "invited_membership_pk"),
        "methods": {"GET": everyone(405), "POST": only(CURATORS, Redirect("{manage_url}"))},
        "writes": True,
    },
    "communities:invitation_withdraw": curator_page(
        ("target_slug", "invited_membership_pk"),
        post=Redirect("{manage_url}"),
        data=lambda w: {"note": "Sent by mistake."},
        writes=True,
    ),
    "communities:roster_import": curator_page(
        ("target_slug",),
        post=Redirect("{manage_url}import/", prefix=True),
        data=roster_file,
        writes=True,
    ),
    "communities:roster_import_preview": curator_page(
        ("target_slug", "import_pk"), post=Redirect("{manage_url}"), writes=True
    ),
    "communities:roster_import_mode": {
        "args": ("target_slug", "import_pk"),
        "methods": {
            "GET": everyone(405),
            "POST": only(CURATORS, Redirect("{manage_url}import/{import_pk}/")),
        },
        "data": lambda w: {"mode": "valid_rows"},
        "writes": True,
    },
    "communities:review_detail": curator_page(("target_slug",)),
    "communities:review_confirm": {
        "args": ("target_slug",),
        "methods": {"GET": everyone(405), "POST": only(CURATORS, Redirect("{review_url}"))},
        "data": lambda w: {"one": w.mo_membership_pk},
        "writes": True,
    },
    "communities:review_remove": curator_page(
        ("target_slug", "mo_membership_pk"),
        post=Redirect("{review_url}"),
        data=lambda w: {"note": "Moved on."},
        writes=True,
    ),
    "communities:review_outcome": curator_page(("target_slug", "review_pk")),
    "communities:review_start": {
        "args": ("other_slug",),
        "methods": {"GET": everyone(405), "POST": only(ADMINS, Redirect("{other_url}review/"))},
        "data": lambda w: {"due_on": "2099-01-31"},
        "writes": True,
    },
    "communities:review_schedule": {
        "args": ("target_slug",),
        "methods": {"GET": everyone(405), "POST": only(ADMINS, Redirect("{review_url}"))},
        "data": lambda w: {"every_months": "12"},
        "writes": True,
    },
    "communities:reviews_start_all": {
        "methods": {"GET": everyone(405), "POST": only(ADMINS, Redirect("/dashboard/"))},
        "data": lambda w: {"due_on": "2099-01-31"},
        "writes": True,
    },
    "communities:community_rules": curator_page(
        ("target_slug",),
        post=Redirect("{manage_url}rules/"),
        data=lambda w: {
            "name": "Analysts",
            "mode": "additive",
            "job_title_1": "Analyst",
            "action": "apply",
            "confirm": "on",
        },
        writes=True,
    ),
    "communities:roster_export": curator_page(("target_slug",)),
    "communities:directory_export": admin_page(),
    "communities:dashboard": admin_page(),
    # A long action's progress: only whoever started it (Stella, the steward) sees it.
    "background:job_detail": {
        "args": ("job_pk",),
        "methods": {
            "GET": only({"steward", "superuser"}, 200, others=404),
            "POST": everyone(405),
        },
    },
    "background:job_file": {
        "args": ("export_job_pk",),
        "methods": {"GET": only(ADMINS, 200, others=404), "POST": everyone(405)},
    },
    "communities:memberships_export": {
        "methods": {"GET": everyone(405), "POST": only(ADMINS, Redirect("/jobs/", prefix=True))},
        "writes": True,
    },
    "communities:email_retry": {
        "args": ("failed_email_pk",),
        "methods": {
            "GET": everyone(405),
            "POST": only(ADMINS, Redirect(reverse("communities:dashboard"))),
        },
        "writes": True,
    },
    "communities:community_history": curator_page(("target_slug",)),
    "communities:purpose_list": page(),
    "communities:purpose_detail": {"args": ("purpose_slug",), **page()},
    # -- people
    "members:member_list": page(),
    "members:member_detail": {"args": ("mo_username",), **page()},
    "members:member_history": {
        "args": ("mo_username",),
        "methods": {
            "GET": only({"member", *ADMINS}, 200),  # the person themself, and admins
            "POST": only({"member", *ADMINS}, 200),
        },
    },
    "members:my_communities": page(),
    "members:profile_edit": {
        "methods": {"GET": everyone(200), "POST": everyone(Redirect("/people/{me}/"))},
        "data": lambda w: {
            "display_name": "Renamed Person",
            "job_title": "Actuary",
            "department": "",
            "location": "Leeds",
            "expertise": "tides",
            "bio": "",
        },
        "writes": True,
    },
    # -- accounts (django.contrib.auth, and the rate-limited password reset)
    "login": {
        "methods": {"GET": everyone(200, anonymous=200), "POST": everyone(200, anonymous=200)},
        "data": lambda w: {"username": w.ada.user.username, "password": "not-the-password"},
    },
    "logout": {
        "methods": {"GET": everyone(405), "POST": everyone(Redirect(LOGIN_PATH))},
    },
    "password_change": {
        "methods": {
            "GET": everyone(200),
            "POST": everyone(Redirect(reverse("password_change_done"))),
        },
        "data": lambda w: {
            "old_password": PASSWORD,
            "new_password1": "a-Quite-new-passw0rd",
            "new_password2": "a-Quite-new-passw0rd",
        },
        "writes": True,
    },
    # -- single sign-on: every URL names a provider; none is configured here
    **{
        f"identity:{name}": {
            "args": ("sso_key",),
            "methods": dict.fromkeys(METHODS, everyone(404, anonymous=404)),
        }
        for name in ("oidc_login", "oidc_callback", "saml_login", "saml_metadata")
    },
    # The provider POSTs here: an unknown one gets the "not signed in" page, not a 404.
    "identity:saml_acs": {
        "args": ("sso_key",),
        "methods": dict.fromkeys(METHODS, everyone(400, anonymous=400)),
    },
    "password_change_done": {"methods": {"GET": everyone(200), "POST": everyone(405)}},
    "password_reset": {
        "methods": {
            "GET": everyone(200, anonymous=200),
            "POST": everyone(
                Redirect(reverse("password_reset_done")),
                anonymous=Redirect(reverse("password_reset_done")),
            ),
        },
        "data": lambda w: {"email": w.ada.user.email},
    },
    "password_reset_done": {
        "methods": {"GET": everyone(200, anonymous=200), "POST": everyone(405, anonymous=405)}
    },
    "password_reset_confirm": {
        "args": ("reset_uid", "reset_token"),
        "methods": {
            "GET": everyone(
                Redirect("{reset_set_password_url}"), anonymous=Redirect("{reset_set_password_url}")
            ),
            "POST": everyone(
                Redirect("{reset_set_password_url}"), anonymous=Redirect("{reset_set_password_url}")
            ),
        },
    },
    "password_reset_complete": {
        "methods": {"GET": everyone(200, anonymous=200), "POST": everyone(405, anonymous=405)}
    },
}

# The insight pages (another change) are read-only pages for anyone signed in. They join
# the matrix when they are in the URLconf; until then they are not expected there.
INSIGHT_PAGES = {
    "communities:knowledge_map": get_only_page(),
    "communities:connectors": get_only_page(),
    "communities:expertise": get_only_page(),
    "communities:insights": get_only_page(),
    "communities:insights_csv": get_only_page(("chart",)),
}

MATRIX = {
    **CORE_MATRIX,
    **{name: spec for name, spec in INSIGHT_PAGES.items() if name in project_url_names()},
}


# -- data -----------------------------------------------------------------------------


def digest(rows) -> str:
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def db_snapshot() -> dict:
    """Everything a refused request must leave alone: row counts, and digests of the
    rows that say who is where, with which role, and who may sign in how."""
    counted = [
        User,
        Group,
        Member,
        Department,
        Community,
        Purpose,
        Community.purposes.through,
        Membership,
        MembershipEvent,
        StageChange,
        RosterImport,
        MembershipTerm,
        CommunityTerm,
        Review,
        ReviewItem,
        ReviewSchedule,
        Job,
    ]
    return {
        "counts": {model._meta.label: model.objects.count() for model in counted},
        "memberships": digest(
            Membership.objects.order_by("pk").values_list(
                "pk", "community_id", "member_id", "state", "role", "note", "decided_by_id"
            )
        ),
        "communities": digest(
            Community.objects.order_by("pk").values_list(
                "pk",
                "slug",
                "kind",
                "status",
                "stage",
                "join_policy",
                "merged_into_id",
                "declined_at",
                "name",
            )
        ),
        "members": digest(
            Member.objects.order_by("pk").values_list(
                "pk", "display_name", "job_title", "department_id", "location", "expertise", "bio"
            )
        ),
        "users": digest(
            User.objects.order_by("pk").values_list(
                "pk", "username", "email", "password", "is_active", "is_staff", "is_superuser"
            )
        ),
        "imports": digest(
            RosterImport.objects.order_by("pk").values_list("pk", "applied_at", "mode")
        ),
        "outbox": digest(OutboxMessage.objects.order_by("pk").values_list("pk", "state")),
    }


# -- checks ---------------------------------------------------------------------------


def path_for(name: str, world) -> str:
    args = [getattr(world, arg) for arg in MATRIX[name].get("args", ())]
    return reverse(name, args=args)


def assert_outcome(response, expected, *, path: str, me: str, world):
    where = f"{response.status_code} {response.get('Location', '')}".strip()
    if expected == LOGIN:
        assert response.status_code == 302, where
        target = urlsplit(response.url)
        assert target.path == LOGIN_PATH, where
        assert parse_qs(target.query)["next"] == [path], where
    elif isinstance(expected, Redirect):
        assert response.status_code == 302, where
        wanted = expected.to.format_map({**vars(world), "me": me})
        got = urlsplit(response.url).path
        assert got.startswith(wanted) if expected.prefix else got == wanted, where
    else:
        assert response.status_code == expected, where
    if expected == 403:
        assert "You can't do that here" in response.content.decode(), "not the project's 403"
    if expected == 404:
        assert "We couldn't find that page" in response.content.decode(), "not the project's 404"


CELLS = [
    pytest.param(name, method, role, id=f"{name}-{method}-{role}")
    for name in sorted(MATRIX)
    for method in METHODS
    for role in ROLES
]


@pytest.mark.parametrize("name, method, role", CELLS)
def test_matrix(client, world, mailoutbox, name, method, role):
    spec = MATRIX[name]
    expected = spec["methods"][method][role]
    user = world.users[role]
    if user is not None:
        client.force_login(user)
    path = path_for(name, world)
    before = db_snapshot()

    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, spec.get("data", lambda w: {})(world))

    assert_outcome(response, expected, path=path, me=user.username if user else "", world=world)
    if expected in REFUSALS:
        assert db_snapshot() == before, "a refused request changed the database"
        assert mailoutbox == [], "a refused request sent email"
    elif method == "POST" and spec.get("writes"):
        assert db_snapshot() != before, "an allowed request did nothing"


# -- the matrix itself ----------------------------------------------------------------


def test_every_url_has_a_matrix_entry():
    in_urlconf = project_url_names()

    missing = sorted(in_urlconf - set(MATRIX))
    stale = sorted(set(MATRIX) - in_urlconf)

    assert not missing, (
        "These URLs have no entry in tests/test_authz_matrix.py MATRIX; add one that says "
        f"who may GET and POST them: {missing}"
    )
    assert not stale, f"MATRIX has entries for URLs that no longer exist: {stale}"


def test_every_matrix_entry_names_every_role_for_get_and_post():
    incomplete = {
        name: method
        for name, spec in MATRIX.items()
        for method in METHODS
        if set(spec["methods"].get(method, {})) != set(ROLES)
    }

    assert not incomplete


def test_walker_finds_namespaced_and_top_level_names():
    names = url_names()

    assert {"communities:membership_join", "members:member_history", "login", "healthz"} <= names
    assert "admin:index" in names
    assert not any(name.startswith("admin:") for name in project_url_names())


# -- the Django admin ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["anonymous", "staff", "outsider", "member", "steward", "directory_admin"]
)
def test_admin_site_sends_everyone_but_django_staff_to_its_sign_in(client, world, role):
    user = world.users[role]
    if user is not None:
        client.force_login(user)
    admin_index = reverse("admin:index")

    response = client.get(admin_index)

    assert response.status_code == 302
    target = urlsplit(response.url)
    assert target.path == reverse("admin:login")
    assert parse_qs(target.query)["next"] == [admin_index]


def test_admin_site_gives_staff_flag_without_permissions_no_model_pages(client, world):
    user = world.users["outsider"]
    User.objects.filter(pk=user.pk).update(is_staff=True)
    client.force_login(User.objects.get(pk=user.pk))

    index = client.get(reverse("admin:index"))
    changelist = client.get(reverse("admin:communities_membership_changelist"))

    assert index.status_code == 200  # Django's rule: is_staff opens the (empty) index
    assert "Membership" not in index.content.decode()
    assert changelist.status_code == 403


def test_admin_site_opens_for_a_superuser(client, world):
    client.force_login(world.users["superuser"])

    index = client.get(reverse("admin:index"))
    changelist = client.get(reverse("admin:communities_membership_changelist"))

    assert index.status_code == 200
    assert changelist.status_code == 200


# -- SCIM provisioning ------------------------------------------------------------------
# The SCIM endpoints take a bearer token only: a signed-in session is no token, so every
# role gets 401 (tests/test_scim.py covers tokens). The provisioning pages are for
# directory admins. Their tables (tokens, group links) are not in ``db_snapshot``:
# tests/test_scim_pages.py checks what those pages change.

REFUSALS |= {401}


def _scim_endpoint() -> dict:
    return {
        "methods": {"GET": everyone(401, anonymous=401), "POST": everyone(401, anonymous=401)},
        "data": lambda w: {"userName": "nobody"},
    }


PROVISIONING_MATRIX = {
    **{
        f"scim:{name}": _scim_endpoint()
        for name in (
            "root",
            "search",
            "users-search",
            "groups-search",
            "users",
            "groups",
            "service-provider-config",
            "resource-types",
            "schemas",
            "not_found",
        )
    },
    "provisioning:provisioning_overview": admin_page(),
    "provisioning:token_create": {
        "methods": {"GET": everyone(405), "POST": only(ADMINS, 200)},
        "data": lambda w: {"name": "Okta"},
    },
    "provisioning:token_revoke": admin_page(
        ("scim_token_pk",), post=Redirect("/dashboard/provisioning/")
    ),
    "provisioning:group_link": {
        "args": ("scim_group_pk",),
        "methods": {
            "GET": everyone(405),
            "POST": only(ADMINS, Redirect("/dashboard/provisioning/")),
        },
        "data": lambda w: {f"g{w.scim_group_pk}-community": w.target.pk},
    },
}
MATRIX.update(PROVISIONING_MATRIX)
CELLS += [
    pytest.param(name, method, role, id=f"{name}-{method}-{role}")
    for name in sorted(PROVISIONING_MATRIX)
    for method in METHODS
    for role in ROLES
]
