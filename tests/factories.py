"""factory_boy factories for kcdir's models.

Every factory makes a valid row with unique natural keys, so a test only
spells out the fields its assertion is about.
"""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from communities import overlaps
from communities.access import DIRECTORY_ADMINS_GROUP
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
    # As the services set it: when the person became active (never, for a request).
    active_since = factory.LazyAttribute(
        lambda m: timezone.now() if m.state == Membership.State.ACTIVE else None
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # As the services do: an active membership adds its person to the stored overlaps.
        membership = super()._create(model_class, *args, **kwargs)
        if membership.state == Membership.State.ACTIVE:
            overlaps.people_joined(
                community_id=membership.community_id, member_ids=[membership.member_id]
            )
        Community.objects.filter(pk=membership.community_id).recount_members()  # the stored count
        return membership


def member_named(display_name: str, *, username: str | None = None, **kwargs) -> Member:
    """A Member (and user) whose name a test can look for in a page."""
    username = username or display_name.lower().replace(" ", ".")
    return MemberFactory(user__username=username, display_name=display_name, **kwargs)


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


def directory_admin_named(display_name: str, *, username: str, **kwargs) -> Member:
    """A Member in the "Directory admins" group."""
    member = member_named(display_name, username=username, **kwargs)
    member.user.groups.add(directory_admins_group())
    return member


def superuser_named(display_name: str, *, username: str, **kwargs) -> Member:
    """A Member whose user is a Django superuser (and staff, for the admin site)."""
    return member_named(
        display_name, username=username, user__is_superuser=True, user__is_staff=True, **kwargs
    )


def led_kc(*, sponsor: Member | None = None, steward: Member | None = None, **kwargs) -> Community:
    """An active knowledge community as the invariants want it: an active
    sponsor, an active steward and a future-shaping purpose (new people and a new
    purpose unless given)."""
    if "purposes" not in kwargs:
        kwargs["purposes"] = [PurposeFactory()]
    community = CommunityFactory(kind=Community.Kind.KC, **kwargs)
    MembershipFactory(
        member=sponsor or MemberFactory(), community=community, role=Membership.Role.SPONSOR
    )
    MembershipFactory(
        member=steward or MemberFactory(), community=community, role=Membership.Role.STEWARD
    )
    return community


def coordinated_cop(*, coordinator: Member | None = None, **kwargs) -> Community:
    """An active community of practice with one coordinator (its steward)."""
    community = CommunityFactory(kind=Community.Kind.COP, **kwargs)
    MembershipFactory(
        member=coordinator or MemberFactory(), community=community, role=Membership.Role.STEWARD
    )
    return community


def person_in(
    community: Community, state: str | None = None, role: str = Membership.Role.MEMBER
) -> Member:
    """A new person; with ``state``, already on ``community``'s list in that state."""
    member = MemberFactory()
    if state is not None:
        MembershipFactory(member=member, community=community, state=state, role=role)
    return member
