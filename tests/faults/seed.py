"""Run in a subprocess with the servers' settings (``servers.server_env``):

    python -m tests.faults.seed            migrate the DATABASE_URL database, load the
                                           fault tests' data, print what they need (JSON)
    python -m tests.faults.seed static     collect the static files into STATIC_ROOT

The data: 600 people; knowledge communities led as the rules want (one sponsor, a
steward); a community of practice with 300 participants; three people with sessions
(a directory admin, a steward, an employee) and one who can sign in with a password.
"""

import json
import sys

import django

PEOPLE = 600
PARTICIPANTS = 300
PASSWORD = "faults-password-1"  # noqa: S105 (a test account on a throwaway database)


def collect_static() -> None:
    from django.core.management import call_command
    from django.test import override_settings

    # Hashed names and the manifest, as production serves them, without the compression.
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)


def session_cookie(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "communities.backends.MemberBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def seed() -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from communities.access import DIRECTORY_ADMINS_GROUP
    from communities.models import Community, Membership, Purpose
    from members.models import Department, Member

    call_command("migrate", verbosity=0)
    User = get_user_model()
    department = Department.objects.create(name="Claims", slug="claims")

    def person(username: str, name: str, password: str | None = None) -> Member:
        user = User(username=username, email=f"{username}@example.org")
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        return Member.objects.create(user=user, display_name=name, department=department)

    ada = person("ada", "Ada Admin")
    ada.user.groups.add(Group.objects.get(name=DIRECTORY_ADMINS_GROUP))
    sam = person("sam", "Sam Steward")
    spencer = person("spencer", "Spencer Sponsor")
    wendy = person("wendy", "Wendy Worker")
    paula = person("paula", "Paula Password", PASSWORD)

    users = User.objects.bulk_create(
        User(username=f"person{i:04d}", email=f"person{i:04d}@example.org", password="!")
        for i in range(PEOPLE)
    )
    people = Member.objects.bulk_create(
        Member(user=user, display_name=f"Person {i:04d}", department=department)
        for i, user in enumerate(users)
    )
    purpose = Purpose.objects.create(
        statement="Settle every claim within two days",
        slug="two-day-claims",
        orientation=Purpose.Orientation.SHAPE_FUTURE,
    )

    def kc(slug: str, name: str, policy: str) -> Community:
        community = Community.objects.create(
            name=name, slug=slug, kind="kc", status="active", join_policy=policy
        )
        community.purposes.add(purpose)
        Membership.objects.create(member=spencer, community=community, role="sponsor")
        Membership.objects.create(member=sam, community=community, role="steward")
        return community

    kc("claims", "Claims Turnaround", "request")
    kc("open-kc", "Open Claims Circle", "open")
    kc("bulk-kc", "Bulk Added Circle", "request")
    kc("import-kc", "Imported Circle", "request")
    cop = Community.objects.create(
        name="Data Clinic", slug="data-clinic", kind="cop", status="active"
    )
    Membership.objects.create(member=sam, community=cop, role="steward")
    Membership.objects.bulk_create(
        Membership(member=member, community=cop, role="participant")
        for member in people[:PARTICIPANTS]
    )
    return {
        "cookies": {m.user.username: session_cookie(m.user) for m in (ada, sam, wendy)},
        "password_user": paula.user.username,
        "password": PASSWORD,
        "purpose_id": purpose.pk,
        "people": [f"person{i:04d}" for i in range(PEOPLE)],
    }


if __name__ == "__main__":
    django.setup()
    if sys.argv[1:] == ["static"]:
        collect_static()
    else:
        print(json.dumps(seed()))
