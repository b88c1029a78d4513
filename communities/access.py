"""Who may see or touch what: every "may this person ...?" is answered here.

Views, the context templates get and the admin ask here; nothing else decides access.

- ``is_directory_admin`` and the ``may_*`` functions answer yes or no.
- The ``*_for_*`` functions return the object a page works on, or raise
  ``Http404``/``PermissionDenied``: 404 when the object does not exist (or may not be
  known to exist), 403 when it exists but this person may not act on it.
- ``membership_actions`` and ``stewardship_links`` say what a community's page offers
  this person, so its templates only show the answers.
"""

from dataclasses import dataclass, replace
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import connections, router
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from members.models import Member

from .models import (
    Community,
    Membership,
    MembershipRule,
    Purpose,
    Review,
    RosterImport,
    RuleMembership,
)

DIRECTORY_ADMINS_GROUP = "Directory admins"
MANAGE_DIRECTORY_PERMISSION = "communities.manage_directory"

State = Membership.State
Status = Community.Status

# -- directory admins --------------------------------------------------------------------

# Where ``is_directory_admin`` keeps its answer on the user object for the request.
_DIRECTORY_ADMIN_FLAG = "_kcdir_directory_admin"


def may_sign_in_with_password(user) -> bool:
    """Passwords sign people in unless ``KCDIR_PASSWORD_LOGIN`` is off; superusers keep
    theirs either way, so the admin stays reachable when the identity provider is not."""
    return settings.KCDIR_PASSWORD_LOGIN or user.is_superuser


def directory_admin_sql(connection, user_id_column: str) -> tuple[str, list]:
    """The directory-admin rule as SQL: an ``EXISTS`` expression, true when the user
    whose id is ``user_id_column`` (a column of the enclosing query) holds
    ``manage_directory`` directly or through a group, and its parameters.

    Superusers are not asked here (``is_directory_admin`` answers for them). Table and
    column names come from the models, quoted for ``connection``; the only values are
    the parameters. ``MemberBackend`` puts this in the query that loads the user.
    """
    quote = connection.ops.quote_name
    groups = get_user_model()._meta.get_field("groups")
    direct = get_user_model()._meta.get_field("user_permissions")
    granted = Group._meta.get_field("permissions")
    permission = {
        "table": quote(Permission._meta.db_table),
        "pk": quote(Permission._meta.pk.column),
        "content_type": quote(Permission._meta.get_field("content_type").column),
        "codename": quote(Permission._meta.get_field("codename").column),
    }
    content_type = {
        "table": quote(ContentType._meta.db_table),
        "pk": quote(ContentType._meta.pk.column),
        "app_label": quote(ContentType._meta.get_field("app_label").column),
    }
    sql = f"""EXISTS (
        SELECT 1 FROM {permission["table"]} p
        JOIN {content_type["table"]} ct ON ct.{content_type["pk"]} = p.{permission["content_type"]}
        WHERE ct.{content_type["app_label"]} = %s AND p.{permission["codename"]} = %s AND (
            p.{permission["pk"]} IN (
                SELECT gp.{quote(granted.m2m_reverse_name())}
                FROM {quote(granted.m2m_db_table())} gp
                JOIN {quote(groups.m2m_db_table())} ug
                    ON ug.{quote(groups.m2m_reverse_name())} = gp.{quote(granted.m2m_column_name())}
                WHERE ug.{quote(groups.m2m_column_name())} = {user_id_column})
            OR p.{permission["pk"]} IN (
                SELECT up.{quote(direct.m2m_reverse_name())}
                FROM {quote(direct.m2m_db_table())} up
                WHERE up.{quote(direct.m2m_column_name())} = {user_id_column})
        )
    )"""  # noqa: S608
    return sql, MANAGE_DIRECTORY_PERMISSION.split(".")


@cache
def _directory_admin_query(database: str) -> tuple[str, list]:
    """``directory_admin_sql`` about one user, whose id is the last parameter."""
    User = get_user_model()
    quote = connections[database].ops.quote_name
    user_table = quote(User._meta.db_table)
    user_pk = f"{user_table}.{quote(User._meta.pk.column)}"
    exists, params = directory_admin_sql(connections[database], user_pk)
    return f"SELECT {exists} FROM {user_table} WHERE {user_pk} = %s", params  # noqa: S608


def remember_directory_admin(user, flag: bool) -> None:
    """Keep ``is_directory_admin``'s answer on ``user`` for the rest of the request
    (``MemberBackend`` learns it with the user)."""
    setattr(user, _DIRECTORY_ADMIN_FLAG, flag)


def is_directory_admin(user) -> bool:
    """Superuser, or holds ``manage_directory`` directly or through a group.

    At most one query, remembered on the user object for the rest of the request
    (Django's ``has_perm`` would load every permission in two); none when
    ``MemberBackend`` loaded the user.
    """
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    flag = getattr(user, _DIRECTORY_ADMIN_FLAG, None)
    if flag is None:
        database = router.db_for_read(get_user_model())
        sql, params = _directory_admin_query(database)
        with connections[database].cursor() as cursor:
            cursor.execute(sql, [*params, user.pk])
            row = cursor.fetchone()
        flag = bool(row and row[0])
        remember_directory_admin(user, flag)
    return flag


def directory_admins():
    """Every active user ``is_directory_admin`` says yes to (superusers included)."""
    app_label, codename = MANAGE_DIRECTORY_PERMISSION.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(groups__permissions__in=permission)
            | Q(user_permissions__in=permission)
        )
        .distinct()
    )


def require_directory_admin(user) -> None:
    if not is_directory_admin(user):
        raise PermissionDenied("Only directory admins can do that.")


# -- yes-or-no questions -----------------------------------------------------------------

# ``membership`` not given: the functions below read it themselves.
_NOT_READ = object()


def _is_active_steward(membership: Membership | None) -> bool:
    return (
        membership is not None
        and membership.state == State.ACTIVE
        and membership.role == Membership.Role.STEWARD
    )


def may_curate(user, community: Community, *, membership=_NOT_READ) -> bool:
    """Whether ``user`` curates this community: directory admins, and its active
    stewards. ``membership``, the user's own membership of it (``None``: they have
    none) when the caller has read it already, spares a query."""
    if is_directory_admin(user):
        return True
    if membership is _NOT_READ:
        return communities_stewarded_by(user).filter(community=community).exists()
    return _is_active_steward(membership)


def may_edit_community(user, community: Community, *, membership=_NOT_READ) -> bool:
    """Whether ``user`` may edit the community's details (summary, description, purposes,
    join policy, links, where and how it meets): the people who curate it, its active
    stewards (a CoP's coordinators) and directory admins."""
    return may_curate(user, community, membership=membership)


def may_formalise(user, community: Community, *, membership=_NOT_READ) -> bool:
    """A community of practice's curators may formalise it: directory admins at once,
    its coordinators by proposing it to them."""
    return community.is_cop and may_curate(user, community, membership=membership)


def may_merge(user) -> bool:
    """Only directory admins merge a duplicate community into another."""
    return is_directory_admin(user)


def may_start_reviews(user) -> bool:
    """Only directory admins start, schedule or stop reviews of communities' lists."""
    return is_directory_admin(user)


def may_decide_proposals(user) -> bool:
    """Only directory admins approve or decline a proposed knowledge community."""
    return is_directory_admin(user)


def may_sync_people(user) -> bool:
    """The HR people sync (on the admin's Members page): superusers, directory admins
    and whoever may change members."""
    return user.is_active and (
        user.is_superuser or is_directory_admin(user) or user.has_perm("members.change_member")
    )


def may_use_admin(user) -> bool:
    """The Django admin's own rule (``AdminSite.has_permission``), for the navbar link."""
    return user.is_active and user.is_staff


def may_see_history(user, member: Member) -> bool:
    """A person's roster history: theirs to see, and directory admins'."""
    return member.user_id == user.pk or is_directory_admin(user)


def communities_stewarded_by(user):
    """The ids of the communities ``user`` is an active steward of (a subquery)."""
    return Membership.objects.filter(
        member__user=user, state=State.ACTIVE, role=Membership.Role.STEWARD
    ).values("community_id")


def requests_decidable_by(user):
    """Requests to join that ``user`` may approve or deny (``Membership.objects.waiting_in``):
    in every community for directory admins, else in those they steward."""
    if is_directory_admin(user):
        return Membership.objects.waiting_in()
    return Membership.objects.waiting_in(communities_stewarded_by(user))


def purposes_to_offer(user):
    """The purposes a form may offer ``user`` to choose from: every one to directory
    admins (who see proposals, and purposes no community pursues yet); the listed ones
    (``Purpose.objects.listed()``) to everyone else."""
    return Purpose.objects.all() if is_directory_admin(user) else Purpose.objects.listed()


# -- the object a page works on ----------------------------------------------------------


def may_see_community(user, community: Community) -> bool:
    """Every signed-in person sees a listed community; a proposal (waiting or declined)
    only directory admins and whoever proposed it. ``community.proposed_by`` is read:
    load it with the community (``select_related``)."""
    return (
        community.status != Status.PROPOSED
        or is_directory_admin(user)
        or (community.proposed_by is not None and community.proposed_by.user_id == user.pk)
    )


def community_for_viewer(user, slug: str, queryset=None) -> Community:
    """A community this person may see (``may_see_community``). ``queryset`` lets a
    page load what it shows at once."""
    queryset = Community.objects.all() if queryset is None else queryset
    community = get_object_or_404(queryset.select_related("proposed_by"), slug=slug)
    if not may_see_community(user, community):
        raise Http404("No such community.")
    return community


def community_for_map(user, slug: str) -> Community | None:
    """The community the knowledge map may centre on, or None. The map draws live
    (active and dormant) communities only, for everyone who may see the map: a proposal,
    an archived community or an unknown slug all give None, so the page cannot tell
    them apart (nothing leaks)."""
    on_the_map = [Status.ACTIVE, Status.DORMANT]  # selectors.LIVE, a layer above this one
    return Community.objects.filter(slug=slug, status__in=on_the_map).first()


def purpose_for_viewer(user, slug: str) -> Purpose:
    """A purpose whose page this person may see: one a listed community pursues
    (``Purpose.objects.listed()``), for everyone signed in; one only proposals pursue,
    for whoever may see one of them (``may_see_community``). Any other purpose, and one
    no community pursues, is not found."""
    purpose = Purpose.objects.listed().filter(slug=slug).first()
    if purpose is not None:
        return purpose
    purpose = get_object_or_404(Purpose, slug=slug)
    proposals = purpose.communities.select_related("proposed_by")
    if not any(may_see_community(user, proposal) for proposal in proposals):
        raise Http404("No such purpose.")
    return purpose


def community_for_steward(user, slug: str) -> Community:
    """A community this user may curate (``may_curate``): its stewards and directory
    admins. Whether the user stewards it is read with the community, in one query."""
    stewarded = communities_stewarded_by(user).filter(community_id=OuterRef("pk"))
    community = community_for_viewer(
        user, slug, queryset=Community.objects.annotate(stewarded_by_viewer=Exists(stewarded))
    )
    if not (is_directory_admin(user) or community.stewarded_by_viewer):
        raise PermissionDenied("Only this community's stewards and directory admins can do that.")
    return community


def community_for_editing(user, slug: str) -> Community:
    """A community whose details this user may edit (``may_edit_community``)."""
    community = community_for_viewer(user, slug)
    if not may_edit_community(user, community):
        raise PermissionDenied(
            "Only this community's stewards or coordinators and directory admins can edit it."
        )
    return community


def membership_for_steward(user, slug: str, pk: int) -> tuple[Community, Membership]:
    """A membership of a community this user curates; never one of another community."""
    community = community_for_steward(user, slug)
    membership = get_object_or_404(
        Membership.objects.select_related("member__user"), pk=pk, community=community
    )
    return community, membership


def community_for_review_admin(user, slug: str) -> Community:
    """A community whose reviews this user may start or schedule: directory admins."""
    if not may_start_reviews(user):
        raise PermissionDenied("Only directory admins start reviews.")
    return community_for_viewer(user, slug)


def open_review_for_steward(user, slug: str) -> tuple[Community, Review]:
    """The open review of a community this user curates (404 when none is open)."""
    community = community_for_steward(user, slug)
    review = get_object_or_404(Review, community=community, status=Review.Status.OPEN)
    return community, review


def review_for_steward(user, slug: str, pk: int) -> tuple[Community, Review]:
    """A review (open or completed) of a community this user curates."""
    community = community_for_steward(user, slug)
    return community, get_object_or_404(Review, pk=pk, community=community)


def roster_import_for_steward(user, slug: str, pk: int) -> tuple[Community, RosterImport]:
    """An uploaded roster of a community this user curates; never another's."""
    community = community_for_steward(user, slug)
    return community, get_object_or_404(RosterImport, pk=pk, community=community)


def cop_for_formalising(user, slug: str) -> Community:
    """A community of practice this user may formalise (``may_formalise``)."""
    community = community_for_viewer(user, slug)
    if not may_formalise(user, community):
        raise PermissionDenied(
            "Only directory admins and a community of practice's coordinators can do that."
        )
    return community


def community_for_merging(user, slug: str) -> Community:
    """A community a directory admin may merge into another."""
    if not may_merge(user):
        raise PermissionDenied("Only directory admins can do that.")
    return community_for_viewer(user, slug)


def proposal_for_deciding(user, slug: str) -> Community:
    """A proposed knowledge community still waiting for a directory admin's decision."""
    if not may_decide_proposals(user):
        raise PermissionDenied("Only directory admins can do that.")
    return get_object_or_404(Community, slug=slug, status=Status.PROPOSED, declined_at=None)


def member_for_viewer(user, username: str) -> Member:
    """Anyone's profile, for every signed-in person."""
    return get_object_or_404(
        Member.objects.select_related("user", "department"), user__username=username
    )


def member_history_for_viewer(user, username: str) -> Member:
    """A person's roster history (``may_see_history``)."""
    member = get_object_or_404(Member.objects.select_related("user"), user__username=username)
    if not may_see_history(user, member):
        raise PermissionDenied("Only this person and directory admins can see their history.")
    return member


# -- what a community's page offers ------------------------------------------------------


@dataclass(frozen=True)
class MembershipActions:
    """What a community's page offers a person about their own membership: the
    actions the services accept from them now, or why there are none (at most one
    reason, and never with an action)."""

    leave: bool = False
    cancel: bool = False
    accept: bool = False
    decline: bool = False
    join: bool = False
    request: bool = False
    denied_before: bool = False  # with ``request``: their last request was denied
    archived: bool = False
    proposed: bool = False
    removed: bool = False
    invite_only: bool = False
    # Their invitation lapsed (``Membership.invitation_has_lapsed``): the rest is what
    # someone who had left may do.
    invitation_lapsed: bool = False
    # The identity provider named here decides who is on the list: no action is offered.
    managed_by: str = ""


def membership_actions(community: Community, membership: Membership | None) -> MembershipActions:
    """The person's own actions on ``community``, given their ``membership`` of it.

    Mirrors the state machine in ``communities.services``: leaving and cancelling a
    request work in any community; accepting, joining and requesting need one that
    takes members (not archived or proposed); a removed person asks again only where
    the community takes requests; an invitation is declined where it can be accepted,
    and a lapsed one is neither (the person is as free as someone who left).
    """
    managed_by = membership_managed_by(community, membership)
    if managed_by:
        return MembershipActions(managed_by=managed_by)
    if membership is not None and membership.invitation_has_lapsed():
        after = membership_actions(community, Membership(community=community, state=State.LEFT))
        return replace(after, invitation_lapsed=True)
    state = membership.state if membership is not None else None
    if state == State.ACTIVE:
        return MembershipActions(leave=True)
    if state == State.REQUESTED:
        return MembershipActions(cancel=True)
    if community.status == Status.ARCHIVED:
        return MembershipActions(archived=True)
    if community.status == Status.PROPOSED:
        return MembershipActions(proposed=True)
    if state == State.INVITED:
        return MembershipActions(accept=True, decline=True)
    takes_requests = community.is_kc and community.join_policy == Community.JoinPolicy.REQUEST
    if state == State.REMOVED and not takes_requests:
        return MembershipActions(removed=True)
    if community.is_cop or community.join_policy == Community.JoinPolicy.OPEN:
        return MembershipActions(join=True)
    if takes_requests:
        return MembershipActions(request=True, denied_before=state == State.DENIED)
    return MembershipActions(invite_only=True)


def membership_managed_by(community: Community, membership: Membership | None = None) -> str:
    """The identity provider that decides who is on ``community``'s list (a group in it
    is linked to the community), or "" when people join and leave here. While it is
    set, nobody joins, asks, accepts or leaves on kcdir's pages: the provider adds and
    removes people. Otherwise the community's membership rule, where it decides this
    person's place (``membership_rule_for``)."""
    return community.membership_managed_by or membership_rule_for(community, membership)


def membership_rule_for(community: Community, membership: Membership | None = None) -> str:
    """The rule ("the rule “…”") that keeps ``membership`` (or, with none, anyone's) on
    ``community``'s list, or "": a strict rule decides everyone's place; an additive
    one only the places it made (people may also join by hand)."""
    # Read with the community and the membership where a page selects them
    # (``select_related("membership_rule")``, ``("rule_mark")``); otherwise one query each.
    try:
        rule = community.membership_rule
    except MembershipRule.DoesNotExist:
        return ""
    label = _("the rule “%(name)s”") % {"name": rule.name}
    if rule.mode == MembershipRule.Mode.STRICT:
        return label
    if membership is None or membership.pk is None or membership.state != State.ACTIVE:
        return ""
    try:
        membership.rule_mark  # noqa: B018 (read to learn whether there is one)
    except RuleMembership.DoesNotExist:
        return ""
    return label


def rejoining_needs_a_steward(community: Community) -> bool:
    """Whether someone who leaves ``community`` can come back only through a steward
    (by request or invitation), as the confirmation page warns."""
    after = membership_actions(community, Membership(community=community, state=State.LEFT))
    return after.request or after.invite_only


# -- who must stay ------------------------------------------------------------------------


def _keeps_its_leaders(community: Community) -> bool:
    """An active knowledge community keeps a sponsor and at least one steward."""
    return community.is_kc and community.status == Status.ACTIVE


def _other_active_stewards(community: Community, membership: Membership) -> bool:
    # A community read with ``with_leaders()`` has its active stewards at hand.
    leaders = getattr(community, "leaders", None)
    if leaders is not None:
        return any(
            leader.role == Membership.Role.STEWARD and leader.pk != membership.pk
            for leader in leaders
        )
    return (
        Membership.objects.filter(
            community=community, state=State.ACTIVE, role=Membership.Role.STEWARD
        )
        .exclude(pk=membership.pk)
        .exists()
    )


def is_last_steward(community: Community, membership: Membership) -> bool:
    """Whether ``membership`` is the last active steward of an active knowledge
    community, who may not leave, be removed or be demoted until someone else is one."""
    return (
        _keeps_its_leaders(community)
        and _is_active_steward(membership)
        and not _other_active_stewards(community, membership)
    )


def is_needed_sponsor(community: Community, membership: Membership) -> bool:
    """Whether ``membership`` is the sponsor of an active knowledge community, who stays
    until another is appointed (appointing one makes them a member)."""
    return (
        _keeps_its_leaders(community)
        and membership.state == State.ACTIVE
        and membership.role == Membership.Role.SPONSOR
    )


def why_cannot_leave(community: Community, membership: Membership | None) -> str:
    """Why the person whose ``membership`` it is cannot leave ``community`` now, said to
    them with what to do first; empty when they can (or have nothing to leave, which
    the service says itself). The community page shows it instead of Leave, the leave
    page instead of its confirmation, and ``services.leave_community`` refuses with it."""
    if membership is None or membership.state != State.ACTIVE:
        return ""
    if not community.membership_managed_by:
        rule = membership_rule_for(community, membership)
        if rule:
            return _(
                "Your membership of %(community)s comes from %(rule)s (your department, "
                "job title or location): a steward can change the rule."
            ) % {"community": community.name, "rule": rule}
    managed_by = membership_managed_by(community)
    if managed_by:
        return _(
            "Membership of %(community)s is managed by %(provider)s: ask IT to take you "
            "out of its group there."
        ) % {"community": community.name, "provider": managed_by}
    if is_last_steward(community, membership):
        return _(
            "You are the only steward of %(community)s. Make someone else steward first "
            "(on the Manage membership page), then you can leave."
        ) % {"community": community.name}
    if is_needed_sponsor(community, membership):
        return _(
            "You are the sponsor of %(community)s, and an active knowledge community needs "
            "one. Ask a steward to make someone else sponsor first, then you can leave."
        ) % {"community": community.name}
    return ""


@dataclass(frozen=True)
class StewardshipLinks:
    """The curating links a community's page shows this person."""

    manage: bool  # Manage membership, History, and moving the community up the ladder
    formalise: bool
    merge: bool
    decide_proposal: bool
    edit: bool = False  # Edit community: its details and purposes


def stewardship_links(
    user, community: Community, membership: Membership | None
) -> StewardshipLinks:
    """What ``user`` (whose own membership of ``community`` is ``membership``) may do
    to it from its page. Formalising is offered only while the community of practice
    is not archived (the service refuses it then); merging only for a community in
    the directory (not archived, as a merged duplicate is, nor proposed)."""
    return StewardshipLinks(
        manage=may_curate(user, community, membership=membership),
        edit=may_edit_community(user, community, membership=membership),
        formalise=community.status != Status.ARCHIVED
        and may_formalise(user, community, membership=membership),
        merge=community.status not in (Status.ARCHIVED, Status.PROPOSED) and may_merge(user),
        decide_proposal=may_decide_proposals(user),
    )
