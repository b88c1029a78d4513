"""Shared fixtures: the people and communities most tests start from.

People fixtures return ``User`` objects (what ``client.force_login`` takes);
each has a ``Member`` at ``user.member``.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.cache import caches

from communities.access import DIRECTORY_ADMINS_GROUP
from communities.models import Community, Membership, Purpose

from .factories import (
    CommunityFactory,
    MembershipFactory,
    PurposeFactory,
    led_kc,
    member_named,
)


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
    user = member_named("Dana Admin", username="dana").user
    user.groups.add(directory_admins_group())
    return user


def directory_admins_group() -> Group:
    """The group a migration creates; rebuilt if a browser test's flush removed it
    (serialized_rollback does not always restore migration data)."""
    group, _created = Group.objects.get_or_create(name=DIRECTORY_ADMINS_GROUP)
    content_type = ContentType.objects.get_for_model(Community)
    permission, _created = Permission.objects.get_or_create(
        content_type=content_type,
        codename="manage_directory",
        defaults={"name": "Can curate every community (directory admin)"},
    )
    group.permissions.add(permission)
    return group


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
def cop(db):
    """An active community of practice with one coordinator."""
    community = CommunityFactory(
        kind=Community.Kind.COP,
        name="SQL Clinic",
        slug="sql-clinic",
        summary="Bring a slow query; leave with a better one.",
        stage=Community.Stage.COOPERATION,
    )
    MembershipFactory(
        member=member_named("Cora Coordinator"),
        community=community,
        role=Membership.Role.STEWARD,
    )
    return community
