"""factory_boy factories for kcdir's models.

Every factory makes a valid row with unique natural keys, so a test only
spells out the fields its assertion is about.
"""

import factory
from django.contrib.auth import get_user_model

from communities.models import Community, Membership, Purpose
from members.models import Department, Member

PASSWORD = "pw-for-tests"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(user, create, extracted, **kwargs):
        if create:
            user.save()


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Department {n}")
    slug = factory.Sequence(lambda n: f"department-{n}")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Person {n:04d}")
    job_title = "Analyst"
    department = factory.SubFactory(DepartmentFactory)
    location = "London"


class PurposeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Purpose

    statement = factory.Sequence(lambda n: f"Purpose statement {n}")
    slug = factory.Sequence(lambda n: f"purpose-{n}")
    orientation = Purpose.Orientation.SHAPE_FUTURE


class CommunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Community
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Community {n:04d}")
    slug = factory.Sequence(lambda n: f"community-{n}")
    kind = Community.Kind.KC
    summary = "A community made for a test."
    status = Community.Status.ACTIVE
    join_policy = Community.JoinPolicy.REQUEST
    stage = Community.Stage.SHARING

    @factory.post_generation
    def purposes(community, create, extracted, **kwargs):
        if create and extracted:
            community.purposes.set(extracted)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    member = factory.SubFactory(MemberFactory)
    community = factory.SubFactory(CommunityFactory)
    role = Membership.Role.MEMBER
    state = Membership.State.ACTIVE


def member_named(display_name: str, *, username: str | None = None, **kwargs) -> Member:
    """A Member (and user) whose name a test can look for in a page."""
    username = username or display_name.lower().replace(" ", ".")
    return MemberFactory(user__username=username, display_name=display_name, **kwargs)


def led_kc(*, sponsor: Member, steward: Member, **kwargs) -> Community:
    """An active knowledge community as the invariants want it: an active
    sponsor, an active steward and a future-shaping purpose."""
    if "purposes" not in kwargs:
        kwargs["purposes"] = [PurposeFactory()]
    community = CommunityFactory(kind=Community.Kind.KC, **kwargs)
    MembershipFactory(member=sponsor, community=community, role=Membership.Role.SPONSOR)
    MembershipFactory(member=steward, community=community, role=Membership.Role.STEWARD)
    return community
