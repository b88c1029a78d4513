"""The people the benchmark signs in as, and the big community it measures."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db.models import Count

from communities import services
from communities.access import DIRECTORY_ADMINS_GROUP
from communities.models import Community, Membership
from members.models import Department, Member

from ..enterprise import BENCH_COMMUNITY_SLUG

BENCH_STAFF, BENCH_ADMIN = "kcdir-bench-staff", "kcdir-bench-admin"


@dataclass
class People:
    community: Community  # the 5,000-person open knowledge community
    staff: object  # a plain member of staff, with no memberships of their own
    admin: object  # a directory admin who is also a superuser (exports, the admin)
    steward: object  # a steward of the big community
    subject: object  # the busiest person, whose profile is viewed
    department: Department  # a department with people in the big community


def prepare_people() -> People:
    """The signed-in people (accounts without a usable password; the bench signs them
    in with ``force_login``); creates the bench's own two accounts when absent."""
    community = Community.objects.get(slug=BENCH_COMMUNITY_SLUG)
    department = Department.objects.order_by("pk").first()
    staff, member = bench_staff(department)
    people = People(
        community=community,
        staff=staff,
        admin=bench_admin(),
        steward=(
            community.memberships.active()
            .filter(role=Membership.Role.STEWARD)
            .select_related("member__user")
            .order_by("pk")
            .first()
            .member.user
        ),
        subject=busiest_person(),
        department=(
            Department.objects.filter(members__memberships__community=community)
            .order_by("pk")
            .first()
            or department
        ),
    )
    mine = community.memberships.filter(member=member, state=Membership.State.ACTIVE)
    if mine.exists():  # left over from an interrupted run
        services.leave_community(community=community, member=member)
    return people


def bench_staff(department: Department | None):
    staff, _ = get_user_model().objects.get_or_create(
        username=BENCH_STAFF,
        defaults={"first_name": "Bench", "last_name": "Staff", "password": make_password(None)},
    )
    member = Member.objects.for_user(staff)
    if member.department_id is None:
        member.department = department
        member.job_title = "Analyst"
        member.save()
    return staff, member


def bench_admin():
    admin, _ = get_user_model().objects.get_or_create(
        username=BENCH_ADMIN,
        defaults={
            "first_name": "Bench",
            "last_name": "Admin",
            "password": make_password(None),
            "is_staff": True,
            "is_superuser": True,
        },
    )
    admin.groups.add(Group.objects.get(name=DIRECTORY_ADMINS_GROUP))
    Member.objects.for_user(admin)
    return admin


def busiest_person():
    busiest = (
        Membership.objects.active()
        .values("member")
        .annotate(n=Count("pk"))
        .order_by("-n", "member")
        .first()
    )
    return Member.objects.select_related("user").get(pk=busiest["member"]).user
