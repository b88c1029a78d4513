"""Shared fixtures: the people and communities most tests start from.

People fixtures return ``User`` objects (what ``client.force_login`` takes);
each has a ``Member`` at ``user.member``.
"""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from background.jobs import attach_file
from background.models import Job, OutboxMessage
from communities import insights, services
from communities.models import Community, Membership, Purpose, Review
from provisioning import services as provisioning_services

from .factories import (
    MembershipFactory,
    PurposeFactory,
    coordinated_cop,
    directory_admin_named,
    directory_admins_group,
    led_kc,
    member_named,
    superuser_named,
)

__all__ = ["directory_admins_group"]  # some test modules import it from here


def pytest_configure(config):
    # WhiteNoise warns at start-up that STATIC_ROOT is missing: tests never run
    # collectstatic, and serve static files with the plain storage below.
    config.addinivalue_line("filterwarnings", "ignore:No directory at:UserWarning")


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """The real setting is WhiteNoise's manifest storage, which needs
    ``collectstatic`` before ``{% static %}`` works with DEBUG off."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _empty_cache():
    """Sessions, rate limits and the map's links live in the cache, pages in theirs (whose
    directory versions repeat from test to test): start each test clean."""
    for each in caches.all():
        each.clear()
    yield
    for each in caches.all():
        each.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 is deliberately slow; tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(db):
    """A plain signed-in employee with no role anywhere."""
    return member_named("Sam Staff", username="staff").user


@pytest.fixture
def outsider(db):
    """Someone in no community at all (for refusals and empty states)."""
    return member_named("Olive Outsider", username="outsider").user


@pytest.fixture
def directory_admin(db):
    """In the "Directory admins" group: may curate every community."""
    return directory_admin_named("Dana Admin", username="dana").user


@pytest.fixture
def superuser(db):
    """A Django superuser (every permission, the admin site included)."""
    return superuser_named("Root Superuser", username="root").user


@pytest.fixture
def open_kc(db):
    """An active, open knowledge community with a sponsor and a steward."""
    return led_kc(
        sponsor=member_named("Spencer Sponsor"),
        steward=member_named("Stella Steward", username="steward"),
        name="Claims Turnaround",
        slug="claims-turnaround",
        summary="Paying customers in two days.",
        join_policy=Community.JoinPolicy.OPEN,
        stage=Community.Stage.COMMUNITY,
        purposes=[
            PurposeFactory(
                statement="Cut claim turnaround to two days",
                slug="cut-claim-turnaround",
                orientation=Purpose.Orientation.SHAPE_FUTURE,
            )
        ],
    )


@pytest.fixture
def steward(open_kc):
    """The steward of ``open_kc``."""
    return open_kc.memberships.get(role=Membership.Role.STEWARD).member.user


@pytest.fixture
def request_kc(db):
    """An active knowledge community whose stewards approve join requests."""
    return led_kc(
        sponsor=member_named("Rita Sponsor"),
        steward=member_named("Rex Steward"),
        name="Climate Risk Pricing",
        slug="climate-risk-pricing",
        summary="Climate science in commercial underwriting.",
        join_policy=Community.JoinPolicy.REQUEST,
        stage=Community.Stage.COOPERATION,
    )


@pytest.fixture
def other_steward(request_kc):
    """The steward of ``request_kc``: a steward, but not of ``open_kc``."""
    return request_kc.memberships.get(role=Membership.Role.STEWARD).member.user


@pytest.fixture
def invite_kc(db):
    """An active knowledge community people join only by invitation."""
    return led_kc(
        sponsor=member_named("Ivy Sponsor"),
        steward=member_named("Ian Steward", username="ian"),
        name="Pricing Council",
        slug="pricing-council",
        join_policy=Community.JoinPolicy.INVITE,
    )


@pytest.fixture
def cop(db):
    """An active community of practice with one coordinator."""
    return coordinated_cop(
        coordinator=member_named("Cora Coordinator"),
        name="SQL Clinic",
        slug="sql-clinic",
        summary="Bring a slow query; leave with a better one.",
        stage=Community.Stage.COOPERATION,
    )


@pytest.fixture
def member(open_kc):
    """Mo Member, an active member of ``open_kc`` with no role (and, like the leaders of
    these communities, no history: a module that needs one overrides this fixture)."""
    mo = member_named("Mo Member", username="mo")
    MembershipFactory(member=mo, community=open_kc)
    return mo.user


@pytest.fixture
def users_by_role(member, other_steward, steward, outsider, directory_admin):
    """Who may act on ``open_kc``, one user per role (``None`` for anonymous)."""
    return {
        "anonymous": None,
        "outsider": outsider,
        "member": member,
        "other_steward": other_steward,
        "steward": steward,
        "directory_admin": directory_admin,
    }


@pytest.fixture
def world(db, directory_admin, superuser):
    """One user per role around a target community, for the authorisation and security
    tests (``test_authz_matrix``): the target KC (Claims Turnaround, by request) with a
    steward (Stella), a member (Mo) and a waiting request (Rhea); another KC (Pricing
    Council) with its own steward (Otto) and a member (Sam, the "staff" role); a CoP that
    Stella coordinates and Mo practises in; Pat's proposal; a pending roster import; two
    bystanders (Ada, Bea) to add, appoint and reset; an outsider (Olive), a directory
    admin and a superuser. Values a URL needs are attributes, named as the matrix's
    ``args`` name them."""
    purpose = PurposeFactory(statement="Shape pricing for 2030", slug="shape-pricing")
    stella = member_named("Stella Steward", username="stella")
    mo = member_named("Mo Member", username="mo")
    target = led_kc(
        sponsor=member_named("Spencer Sponsor"),
        steward=stella,
        name="Claims Turnaround",
        slug="claims-turnaround",
        join_policy=Community.JoinPolicy.REQUEST,
        stage=Community.Stage.SHARING,
        purposes=[purpose],
    )
    mo_membership = MembershipFactory(member=mo, community=target)
    pending = MembershipFactory(
        member=member_named("Rhea Requester", username="rhea"),
        community=target,
        state=Membership.State.REQUESTED,
    )
    invited = MembershipFactory(
        member=member_named("Ivo Invited", username="ivo"),
        community=target,
        state=Membership.State.INVITED,
    )

    otto = member_named("Otto Steward", username="otto")
    other = led_kc(
        sponsor=member_named("Pia Sponsor"),
        steward=otto,
        name="Pricing Council",
        slug="pricing-council",
        purposes=[purpose],
    )
    sam = member_named("Sam Staff", username="sam")
    MembershipFactory(member=sam, community=other)

    cop = coordinated_cop(coordinator=stella, name="SQL Clinic", slug="sql-clinic")
    MembershipFactory(member=mo, community=cop, role=Membership.Role.PARTICIPANT)

    proposal = services.propose_kc(
        actor=member_named("Pat Proposer", username="pat"),
        name="Flood Models",
        purpose_statement="Price flood risk by street",
    )
    ada = member_named("Ada Adder", username="ada")
    bea = member_named("Bea Bystander", username="bea")
    pending_import = services.preview_roster_import(
        community=target,
        actor=stella,
        file_name="roster.csv",
        text="username,role\nada,member\n",
        remove_absent=False,
    )

    review = Review.objects.create(
        community=target, due_on=timezone.localdate() + timedelta(days=30)
    )

    failed_email = OutboxMessage.objects.create(
        recipients=["ada@example.org"],
        subject="You are now in Claims Turnaround",
        body="Hello.",
        from_email="kcdir@localhost",
        state=OutboxMessage.State.FAILED,
        attempts=8,
        last_error="SMTPServerDisconnected: Connection unexpectedly closed",
    )

    stellas_job = Job.objects.create(
        label="Roster import of roster.csv into Claims Turnaround",
        func="communities.tasks.apply_roster_import",
        started_by=stella.user,
        total=12000,
    )

    admins_export = Job.objects.create(
        label="Export of every membership",
        func="communities.tasks.export_memberships",
        state=Job.State.DONE,
        started_by=directory_admin,
    )
    attach_file(
        admins_export, name="kcdir-memberships.csv", content_type="text/csv", chunks=[b"a,b\r\n"]
    )

    # A SCIM token and a pushed group, for the provisioning pages that name them.
    scim_token, _value = provisioning_services.create_token(name="Entra ID", created_by=None)
    scim_group = provisioning_services.save_group(
        values={"display_name": "Claims team"}, provider_name="Entra ID"
    )

    reset_uid = urlsafe_base64_encode(force_bytes(bea.user.pk))
    return SimpleNamespace(
        failed_email_pk=failed_email.pk,
        scim_token_pk=scim_token.pk,
        scim_group_pk=scim_group.pk,
        job_pk=stellas_job.pk,
        export_job_pk=admins_export.pk,
        # An identity provider's key: none is configured unless a test configures one.
        sso_key="corp",
        purpose=purpose,
        purpose_slug=purpose.slug,
        target=target,
        target_slug=target.slug,
        target_url=target.get_absolute_url(),
        manage_url=reverse("communities:community_manage", args=[target.slug]),
        other=other,
        other_url=other.get_absolute_url(),
        other_slug=other.slug,
        review_pk=review.pk,
        review_url=reverse("communities:review_detail", args=[target.slug]),
        cop_slug=cop.slug,
        cop_url=cop.get_absolute_url(),
        proposal_slug=proposal.slug,
        proposal_url=proposal.get_absolute_url(),
        mo=mo,
        mo_username=mo.user.username,
        mo_membership_pk=mo_membership.pk,
        pending=pending,
        invited_membership_pk=invited.pk,
        import_pk=pending_import.pk,
        ada=ada,
        bea=bea,
        reset_uid=reset_uid,
        reset_token=default_token_generator.make_token(bea.user),
        reset_set_password_url=reverse("password_reset_confirm", args=[reset_uid, "set-password"]),
        chart=next(iter(insights.CHARTS)),
        users={
            "anonymous": None,
            "staff": sam.user,
            "outsider": member_named("Olive Outsider", username="olive").user,
            "member": mo.user,
            "steward_other": otto.user,
            "steward": stella.user,
            "directory_admin": directory_admin,
            "superuser": superuser,
        },
    )
