"""Reliability promises: concurrent writers on SQLite, and nothing is ever lost.

* SQLite, the zero-setup default, runs in WAL mode with IMMEDIATE transactions and
  a busy timeout (kcdir/settings.py), so concurrent writers queue instead of failing
  with "database is locked". pytest-django's SQLite test database lives in memory,
  where that cannot be shown, so the test runs a small Django script in a
  subprocess against a temporary SQLite *file* with the project's own settings.
* Deleting a person keeps the history that names them; deactivating keeps their
  memberships and history; communities are never deleted through the app, and only
  a superuser can delete one in the Django admin.
"""

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from communities import access, services
from communities.models import Community, Membership, MembershipEvent
from members.models import Member

from .factories import PASSWORD, member_named

User = get_user_model()

WRITERS = 10
ROUNDS = 15  # join + leave each: 10 threads x 15 rounds x 2 = 300 write transactions

# Run in a subprocess: migrate a fresh SQLite file, then 10 threads each join and
# leave an open knowledge community and a community of practice, all at once.
CONCURRENT_WRITERS_SCRIPT = r"""
import json, sys, threading, time
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.conf import settings

call_command("migrate", verbosity=0)
from communities import services
from communities.models import Community, Membership, MembershipEvent
from members.models import Member
from django.contrib.auth import get_user_model

writers, rounds = int(sys.argv[1]), int(sys.argv[2])
User = get_user_model()


def member(name):
    user = User.objects.create_user(username=name, email=name + "@example.org")
    return Member.objects.create(user=user, display_name=name.title())


kc = Community.objects.create(
    name="Claims Turnaround", slug="claims-turnaround", kind="kc", join_policy="open"
)
Membership.objects.create(member=member("sponsor"), community=kc, role="sponsor", state="active")
Membership.objects.create(member=member("steward"), community=kc, role="steward", state="active")
cop = Community.objects.create(name="SQL Clinic", slug="sql-clinic", kind="cop")
people = [member(f"writer{i}") for i in range(writers)]
connection.close()

barrier = threading.Barrier(writers)
errors, done = [], [0] * writers


def work(index):
    try:
        barrier.wait(timeout=30)
        for _ in range(rounds):
            for community in (kc, cop):
                services.join_community(community=community, member=people[index])
                services.leave_community(community=community, member=people[index])
                done[index] += 2
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
    finally:
        connection.close()


started = time.monotonic()
threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout=300)
elapsed = time.monotonic() - started

print(json.dumps({
    "vendor": connection.vendor,
    "journal_mode": connection.cursor().execute("PRAGMA journal_mode").fetchone()[0],
    "transaction_mode": settings.DATABASES["default"]["OPTIONS"].get("transaction_mode"),
    "errors": errors,
    "writes": sum(done),
    "alive": sum(thread.is_alive() for thread in threads),
    "elapsed": round(elapsed, 2),
    "states": sorted(set(
        Membership.objects.filter(member__in=people).values_list("state", flat=True)
    )),
    "memberships": Membership.objects.filter(member__in=people).count(),
    "events": MembershipEvent.objects.filter(target__in=people).count(),
    "events_by_action": {
        action: MembershipEvent.objects.filter(target__in=people, action=action).count()
        for action in ("joined", "practising", "left")
    },
}))
"""


def test_ten_concurrent_writers_on_a_sqlite_file_never_see_database_is_locked(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip(
            f"SQLite's writer queue is what this proves; this run uses {connection.vendor} "
            "(PostgreSQL's row locks are proved by tests/test_races.py)"
        )
    database = tmp_path / "writers.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "kcdir.settings",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", CONCURRENT_WRITERS_SCRIPT, str(WRITERS), str(ROUNDS)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "database is locked" not in result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["errors"] == []
    assert (report["vendor"], report["journal_mode"], report["transaction_mode"]) == (
        "sqlite",
        "wal",
        "IMMEDIATE",
    )
    assert report["alive"] == 0
    assert report["writes"] == WRITERS * ROUNDS * 4
    # One row per person and community, each ending where its last call left it...
    assert report["memberships"] == WRITERS * 2
    assert report["states"] == ["left"]
    # ...and one history event per change, none lost or doubled.
    assert report["events_by_action"] == {
        "joined": WRITERS * ROUNDS,
        "practising": WRITERS * ROUNDS,
        "left": WRITERS * ROUNDS * 2,
    }
    assert report["events"] == WRITERS * ROUNDS * 4


# -- nothing lost -------------------------------------------------------------------------


@pytest.fixture
def history_of_sam(open_kc, steward):
    """Sam joins, is made a steward, and then approves someone: Sam is both the
    target and the actor of history events."""
    sam = member_named("Sam Staff", username="sam")
    services.join_community(community=open_kc, member=sam)
    services.change_role(
        community=open_kc,
        membership=open_kc.memberships.get(member=sam),
        actor=steward.member,
        role=Membership.Role.STEWARD,
    )
    open_kc.join_policy = Community.JoinPolicy.REQUEST
    open_kc.save()
    priya = member_named("Priya Patel", username="priya")
    services.request_membership(community=open_kc, member=priya)
    services.approve_request(
        community=open_kc, membership=open_kc.memberships.get(member=priya), actor=sam
    )
    return sam


def _event_rows(community):
    return sorted(
        MembershipEvent.objects.filter(community=community).values_list(
            "action", "target_name", "actor_name"
        )
    )


def test_deleting_a_user_in_the_admin_keeps_the_history_that_names_them(
    client, superuser, open_kc, history_of_sam
):
    sam = history_of_sam
    before = _event_rows(open_kc)
    assert ("approved", "Priya Patel", "Sam Staff") in before
    assert ("joined", "Sam Staff", "Sam Staff") in before
    client.force_login(superuser)
    url = reverse("admin:auth_user_delete", args=[sam.user.pk])

    confirmation = client.get(url)
    assert confirmation.status_code == 200
    response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not User.objects.filter(username="sam").exists()
    assert not Member.objects.filter(pk=sam.pk).exists()
    # The history is whole: same rows, same names; only the links to Sam are gone.
    assert _event_rows(open_kc) == before
    assert MembershipEvent.objects.filter(target_name="Sam Staff").exists()
    assert not MembershipEvent.objects.filter(target_name="Sam Staff", target__isnull=False)
    assert not MembershipEvent.objects.filter(actor_name="Sam Staff", actor__isnull=False)
    # And the community's history page still tells the story.
    page = client.get(reverse("communities:community_history", args=[open_kc.slug]))
    assert page.status_code == 200
    assert page.content.decode().count("Sam Staff") >= 3


def _admin_form_data(form) -> dict:
    """What a browser would POST back for an unchanged admin form."""
    data = {}
    for name, bound in form.fields.items():
        if bound.disabled:
            continue
        value = form[name].value()
        if isinstance(value, datetime):
            data[f"{name}_0"], data[f"{name}_1"] = value.strftime("%Y-%m-%d %H:%M:%S").split()
        elif value is None:
            data[name] = ""
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = value
    return data


def test_deactivating_a_user_in_the_admin_keeps_their_memberships_and_history(
    client, superuser, open_kc, history_of_sam, directory_admin
):
    sam = history_of_sam
    memberships_before = list(
        Membership.objects.filter(member=sam).values_list("community", "role", "state")
    )
    events_before = _event_rows(open_kc)
    client.force_login(superuser)
    url = reverse("admin:auth_user_change", args=[sam.user.pk])
    form = client.get(url).context["adminform"].form
    data = _admin_form_data(form)
    data.pop("is_active", None)  # unticked

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    sam.user.refresh_from_db()
    assert sam.user.is_active is False
    assert (
        list(Membership.objects.filter(member=sam).values_list("community", "role", "state"))
        == memberships_before
    )
    assert _event_rows(open_kc) == events_before
    # A deactivated person cannot sign in, and a directory admin still sees their history.
    client.logout()
    signing_in = client.post(reverse("login"), {"username": "sam", "password": PASSWORD})
    assert signing_in.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session
    client.force_login(directory_admin)
    history = client.get(reverse("members:member_history", args=["sam"]))
    assert history.status_code == 200
    assert "Claims Turnaround" in history.content.decode()


def _all_url_names(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _all_url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", str(pattern.pattern)


def test_the_app_has_no_url_that_deletes_a_community_or_a_person():
    app_urls = [
        (name, route)
        for name, route in _all_url_names(get_resolver().url_patterns)
        if not name.startswith("admin:")
    ]
    assert app_urls, "the URLconf has no named app pages?"
    deleting = [
        (name, route)
        for name, route in app_urls
        if "delete" in name.lower() or "delete" in route.lower() or "destroy" in name.lower()
    ]
    assert deleting == []


def test_an_http_delete_on_a_community_page_deletes_nothing(client, directory_admin, open_kc):
    client.force_login(directory_admin)
    client.delete(open_kc.get_absolute_url())
    client.post(open_kc.get_absolute_url(), {"delete": "1", "status": "deleted"})
    open_kc.refresh_from_db()
    assert open_kc.status == Community.Status.ACTIVE
    assert open_kc.memberships.filter(state=Membership.State.ACTIVE).count() == 2


def test_the_directory_admins_group_cannot_delete_anything(db):
    group = Group.objects.get(name=access.DIRECTORY_ADMINS_GROUP)
    assert not group.permissions.filter(codename__startswith="delete_").exists()


@pytest.mark.parametrize("is_staff", [False, True], ids=["not-staff", "staff-flag"])
def test_a_directory_admin_who_is_not_a_superuser_cannot_delete_a_community_in_the_admin(
    client, directory_admin, open_kc, is_staff
):
    directory_admin.is_staff = is_staff
    directory_admin.save()
    if is_staff:
        # Even with the admin's door open and every permission on communities but delete.
        directory_admin.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="communities", codename__regex=r"^(add|change|view)_"
            )
        )
    client.force_login(directory_admin)
    url = reverse("admin:communities_community_delete", args=[open_kc.pk])
    events_before = MembershipEvent.objects.filter(community=open_kc).count()

    page = client.get(url)
    response = client.post(url, {"post": "yes"})

    if is_staff:
        assert (page.status_code, response.status_code) == (403, 403)
    else:
        login = reverse("admin:login")
        assert page.status_code == response.status_code == 302
        assert response.headers["Location"].startswith(login)
    assert Community.objects.filter(pk=open_kc.pk).exists()
    assert open_kc.memberships.count() == 2
    assert MembershipEvent.objects.filter(community=open_kc).count() == events_before


def test_only_a_superuser_can_delete_a_community_in_the_admin(client, superuser, open_kc):
    client.force_login(superuser)
    url = reverse("admin:communities_community_delete", args=[open_kc.pk])
    assert client.get(url).status_code == 200  # the confirmation page, for repairs
    assert superuser.has_perm("communities.delete_community")
