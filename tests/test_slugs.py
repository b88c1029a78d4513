"""Slugs under a race: a name taken between the check and the insert.

The services pick a slug by asking which candidates are taken ("quilt-makers", then
"quilt-makers-2"...) and then insert. Under READ COMMITTED another transaction can commit
the same slug in between, and the insert meets the unique constraint. These tests make
that race happen every time: the first check answers "free" for a slug that is in fact
taken, as it would have just before the other transaction's commit. The service must
then take the next free slug, not fail. (``test_races`` runs the real thing, threads on
PostgreSQL.)
"""

import re

import pytest
from django.db.models import QuerySet

from communities import services
from communities.models import Community, Purpose

from .factories import CommunityFactory, PurposeFactory, coordinated_cop, member_named

pytestmark = pytest.mark.django_db

Kind = Community.Kind
Status = Community.Status


@pytest.fixture
def slug_check_misses_once(monkeypatch):
    """Make the first "is this slug taken?" question about ``model`` answer no.

    Returns a function taking the model; it returns the list of the questions answered
    wrongly, so a test can check the race really happened."""

    def arrange(model) -> list[str]:
        real_exists = QuerySet.exists
        missed: list[str] = []

        def exists(queryset):
            if queryset.model is model and not missed and "slug" in str(queryset.query):
                missed.append(str(queryset.query))
                return False
            return real_exists(queryset)

        monkeypatch.setattr(QuerySet, "exists", exists)
        return missed

    return arrange


@pytest.fixture
def pat(db):
    return member_named("Pat Proposer", username="pat")


@pytest.fixture
def leaders(db):
    return member_named("Bea Boss", username="boss"), member_named("Stu Steward", username="stu")


def record(actor, leaders, cop):
    return services.record_cop(actor=actor, name="Quilt Makers", summary="We quilt.")


def propose(actor, leaders, cop):
    return services.propose_kc(actor=actor, name="Quilt Makers", purpose_statement="Quilt more")


def create(actor, leaders, cop):
    sponsor, steward = leaders
    return services.create_community(
        actor=actor,
        name="Quilt Makers",
        purposes=[PurposeFactory()],
        sponsor=sponsor,
        stewards=[steward],
    )


def formalise(actor, leaders, cop):
    sponsor, steward = leaders
    return services.formalise_cop(
        cop=cop,
        actor=actor,
        name="Quilt Makers",
        purposes=[PurposeFactory()],
        sponsor=sponsor,
        stewards=[steward],
    )


def propose_formalisation(actor, leaders, cop):
    return services.propose_formalisation(
        cop=cop, actor=actor, name="Quilt Makers", new_purpose="Quilt more"
    )


@pytest.mark.parametrize(
    "make", [record, propose, create, formalise, propose_formalisation], ids=lambda f: f.__name__
)
def test_a_community_whose_slug_is_taken_after_the_check_gets_the_next_slug(
    make, pat, leaders, slug_check_misses_once
):
    # Another name that makes the same slug (a formalised KC may not share a name).
    taken = CommunityFactory(name="Quilt Makers!", slug="quilt-makers")
    cop = coordinated_cop(coordinator=pat, name="Sewing Circle", slug="sewing-circle")
    missed = slug_check_misses_once(Community)

    community = make(pat, leaders, cop)

    assert missed, "the race did not happen: no slug check was answered wrongly"
    assert community.slug == "quilt-makers-2"
    assert community.name == "Quilt Makers"
    assert Community.objects.get(pk=taken.pk).slug == "quilt-makers"
    assert Community.objects.filter(slug__startswith="quilt-makers").count() == 2


@pytest.mark.parametrize("make", [propose, propose_formalisation], ids=lambda f: f.__name__)
def test_a_new_purpose_whose_slug_is_taken_after_the_check_gets_the_next_slug(
    make, pat, leaders, slug_check_misses_once
):
    # Another statement that makes the same slug ("Quilt more!" and "Quilt more").
    taken = PurposeFactory(statement="Quilt more!", slug="quilt-more")
    cop = coordinated_cop(coordinator=pat, name="Sewing Circle", slug="sewing-circle")
    missed = slug_check_misses_once(Purpose)

    community = make(pat, leaders, cop)

    assert missed, "the race did not happen: no slug check was answered wrongly"
    purpose = community.purposes.get()
    assert (purpose.statement, purpose.slug) == ("Quilt more", "quilt-more-2")
    assert Purpose.objects.get(pk=taken.pk).statement == "Quilt more!"


def test_the_same_purpose_statement_is_one_purpose_whatever_its_slug(pat):
    """A statement already recorded is reused, never recorded twice under a new slug."""
    first = services.propose_kc(actor=pat, name="Quilt Makers", purpose_statement="Quilt more")
    second = services.propose_kc(actor=pat, name="Quilt Makers", purpose_statement="  Quilt more ")

    assert first.purposes.get() == second.purposes.get()
    assert Purpose.objects.filter(statement="Quilt more").count() == 1
    assert [first.slug, second.slug] == ["quilt-makers", "quilt-makers-2"]


def test_after_ten_refused_candidates_a_random_suffix_is_used(pat, monkeypatch):
    """Ten candidates refused in a row (another transaction won each time): the next
    try adds a random suffix instead of counting on."""
    from communities.services import _common

    CommunityFactory(name="Quilt Makers", slug="quilt-makers")
    offered = []

    def always_the_taken_one(model, base):
        offered.append(base)
        return "quilt-makers"

    monkeypatch.setattr(_common, "_first_free_slug", always_the_taken_one)

    community = services.record_cop(actor=pat, name="Quilt Makers", summary="We quilt.")

    assert len(offered) == _common.SLUG_ATTEMPTS == 10
    assert re.fullmatch(r"quilt-makers-[0-9a-f]{8}", community.slug)
