"""Rule-based membership: who a rule matches, and applying it (strict and additive),
with its history, the stored counts and overlaps, and the leaders it never removes."""

import pytest

from communities import overlaps, rules, services
from communities.models import Community, Membership, MembershipEvent, MembershipRule
from members.models import Department

from .factories import MemberFactory, led_kc, member_named, person_in

pytestmark = pytest.mark.django_db
State = Membership.State


@pytest.fixture
def claims():
    return Department.objects.create(name="Claims", slug="claims")


@pytest.fixture
def pricing():
    return Department.objects.create(name="Pricing", slug="pricing")


def _active_names(community):
    return set(
        community.memberships.filter(state=State.ACTIVE).values_list(
            "member__display_name", flat=True
        )
    )


def _assert_counts_exact(community):
    community.refresh_from_db()
    assert community.active_member_count == community.memberships.filter(state=State.ACTIVE).count()
    assert overlaps.stored() == overlaps.counted()


def test_groups_are_or_ed_and_conditions_and_ed(claims, pricing):
    member_named("Ann Adjuster", department=claims, job_title="Senior Adjuster", location="Leeds")
    member_named("Bob Adjuster", department=claims, job_title="Adjuster", location="York")
    member_named("Cy Actuary", department=pricing, job_title="Actuary", location="Leeds")
    member_named("Di Nobody", job_title="Clerk", location="Bath")
    groups = [
        {"departments": [claims.pk], "job_title": "adjuster", "location": "leeds"},
        {"departments": [pricing.pk]},
    ]
    names = set(rules.matching_members(groups).values_list("display_name", flat=True))
    assert names == {"Ann Adjuster", "Cy Actuary"}


def test_an_empty_rule_matches_nobody():
    member_named("Ann Adjuster")
    assert not rules.matching_members([{"job_title": "  "}]).exists()


def test_inactive_people_never_match(claims):
    gone = member_named("Gone Person", department=claims)
    gone.user.is_active = False
    gone.user.save()
    assert not rules.matching_members([{"departments": [claims.pk]}]).exists()


def test_strict_rule_makes_the_list_exactly_the_rule_and_names_itself(open_kc, claims):
    stranger = person_in(open_kc, State.ACTIVE)
    ann = member_named("Ann Adjuster", department=claims)
    _rule, outcome = services.save_rule(
        community=open_kc,
        name="Claims people",
        mode=MembershipRule.Mode.STRICT,
        groups=[{"departments": [claims.pk]}],
        member=None,
    )
    assert outcome.added == ["Ann Adjuster"]
    assert outcome.removed == [stranger.display_name]
    # The sponsor and the only steward match nothing but stay.
    assert set(outcome.kept) == {"Spencer Sponsor", "Stella Steward"}
    assert _active_names(open_kc) == {"Ann Adjuster", "Spencer Sponsor", "Stella Steward"}
    added = MembershipEvent.objects.get(target=ann, action=MembershipEvent.Action.ADDED)
    assert added.actor_name == "Rule “Claims people”"
    assert "Claims people" in added.note
    removed = MembershipEvent.objects.get(target=stranger, action=MembershipEvent.Action.REMOVED)
    assert removed.actor_name == "Rule “Claims people”"
    assert open_kc.memberships.get(member=ann).rule_mark.rule.name == "Claims people"
    _assert_counts_exact(open_kc)


def test_applying_a_rule_twice_changes_nothing(open_kc, claims):
    member_named("Ann Adjuster", department=claims)
    person_in(open_kc, State.ACTIVE)
    rule, _outcome = services.save_rule(
        community=open_kc,
        name="Claims",
        mode=MembershipRule.Mode.STRICT,
        groups=[{"departments": [claims.pk]}],
        member=None,
    )
    events = MembershipEvent.objects.count()
    again = services.evaluate_rule(rule=rule)
    assert again.added == [] and again.removed == []
    assert MembershipEvent.objects.count() == events
    _assert_counts_exact(open_kc)


def test_additive_rule_keeps_people_who_joined_by_hand(open_kc, claims):
    by_hand = person_in(open_kc, State.ACTIVE)
    ann = member_named("Ann Adjuster", department=claims)
    rule, outcome = services.save_rule(
        community=open_kc,
        name="Claims",
        mode=MembershipRule.Mode.ADDITIVE,
        groups=[{"departments": [claims.pk]}],
        member=None,
    )
    assert outcome.added == ["Ann Adjuster"] and outcome.removed == []
    assert by_hand.display_name in _active_names(open_kc)
    # Ann moves out of Claims: the rule takes back only the membership it made.
    ann.department = None
    ann.save()
    outcome = services.evaluate_rule(rule=rule)
    assert outcome.removed == ["Ann Adjuster"]
    assert by_hand.display_name in _active_names(open_kc)
    assert not rule.marks.exists()
    _assert_counts_exact(open_kc)


def test_strict_rule_never_removes_the_last_steward(claims):
    community = led_kc(name="Rules KC", slug="rules-kc")
    outcome = services.save_rule(
        community=community,
        name="Claims",
        mode=MembershipRule.Mode.STRICT,
        groups=[{"departments": [claims.pk]}],
        member=None,
    )[1]
    assert len(outcome.kept) == 2
    assert community.memberships.filter(state=State.ACTIVE, role=Membership.Role.STEWARD).exists()


def test_a_steward_among_several_may_be_removed_by_a_strict_rule(open_kc, claims):
    second = person_in(open_kc, State.ACTIVE, role=Membership.Role.STEWARD)
    member_named("Ann Adjuster", department=claims)
    outcome = services.save_rule(
        community=open_kc,
        name="Claims",
        mode=MembershipRule.Mode.STRICT,
        groups=[{"departments": [claims.pk]}],
        member=None,
    )[1]
    # One of the two stewards goes; the other is then the last and stays.
    assert len([n for n in outcome.removed if n in (second.display_name, "Stella Steward")]) == 1
    assert open_kc.memberships.filter(state=State.ACTIVE, role=Membership.Role.STEWARD).count() == 1
    _assert_counts_exact(open_kc)


def test_rules_leave_archived_communities_alone(open_kc, claims):
    member_named("Ann Adjuster", department=claims)
    Community.objects.filter(pk=open_kc.pk).update(status=Community.Status.ARCHIVED)
    open_kc.refresh_from_db()
    outcome = services.save_rule(
        community=open_kc,
        name="Claims",
        mode=MembershipRule.Mode.ADDITIVE,
        groups=[{"departments": [claims.pk]}],
        member=None,
    )[1]
    assert outcome.added == []


def test_a_rule_needs_a_condition(open_kc):
    with pytest.raises(services.MembershipError):
        services.save_rule(community=open_kc, name="Empty", mode="strict", groups=[{}], member=None)
    assert not MembershipRule.objects.exists()


def test_changed_people_only_are_evaluated(open_kc, claims):
    rule = MembershipRule.objects.create(
        community=open_kc, name="Claims", mode="additive", groups=[{"departments": [claims.pk]}]
    )
    ann = MemberFactory(department=claims)
    bob = MemberFactory(department=claims)
    assert services.evaluate_rules_for_members(member_ids=[ann.pk]) == 1
    assert open_kc.memberships.filter(member=ann, state=State.ACTIVE).exists()
    assert not open_kc.memberships.filter(member=bob).exists()
    assert rule.marks.count() == 1
    _assert_counts_exact(open_kc)


def test_preview_counts_and_names_without_writing(open_kc, claims):
    member_named("Ann Adjuster", department=claims)
    stranger = person_in(open_kc, State.ACTIVE)
    result = rules.preview(open_kc, groups=[{"departments": [claims.pk]}], mode="strict")
    assert result.adding == 1 and result.added_names == ["Ann Adjuster"]
    assert stranger.display_name in result.removed_names
    # The stranger, the sponsor and the only steward match nothing; the leaders stay.
    assert result.removing == 1 and result.keeping == 2
    assert not MembershipRule.objects.exists()
    assert _active_names(open_kc) >= {stranger.display_name}


def test_a_profile_change_to_a_matching_department_adds_the_person(client, open_kc, claims):
    services.save_rule(
        community=open_kc,
        name="Claims",
        mode=MembershipRule.Mode.ADDITIVE,
        groups=[{"departments": [claims.pk]}],
        member=None,
    )
    ann = member_named("Ann Adjuster", username="ann")
    client.force_login(ann.user)
    response = client.post(
        "/me/profile/",
        {"display_name": "Ann Adjuster", "department": claims.pk, "job_title": "", "location": ""},
    )
    assert response.status_code == 302
    membership = open_kc.memberships.get(member=ann)
    assert membership.state == State.ACTIVE and membership.rule_mark.rule.name == "Claims"
    _assert_counts_exact(open_kc)


def test_rule_managed_members_are_offered_neither_leave_nor_join(client, open_kc, claims):
    from communities import access

    ann = member_named("Ann Adjuster", username="ann", department=claims)
    services.save_rule(
        community=open_kc,
        name="Claims",
        mode=MembershipRule.Mode.ADDITIVE,
        groups=[{"departments": [claims.pk]}],
        member=None,
    )
    membership = open_kc.memberships.get(member=ann)
    actions = access.membership_actions(open_kc, membership)
    assert not actions.leave and actions.managed_by == "the rule “Claims”"
    assert access.why_cannot_leave(open_kc, membership)
    with pytest.raises(services.MembershipError):
        services.leave_community(community=open_kc, member=ann)
    # An additive rule leaves others free to join by hand.
    outsider = member_named("Olive Outsider")
    assert access.membership_actions(Community.objects.get(pk=open_kc.pk), None).join
    services.join_community(community=open_kc, member=outsider)


def test_a_strict_rule_offers_nobody_join(open_kc, claims):
    from communities import access

    services.save_rule(
        community=open_kc,
        name="Claims",
        mode=MembershipRule.Mode.STRICT,
        groups=[{"departments": [claims.pk]}],
        member=None,
    )
    community = Community.objects.get(pk=open_kc.pk)
    assert not access.membership_actions(community, None).join
    with pytest.raises(services.MembershipError):
        services.join_community(community=community, member=member_named("Olive Outsider"))


def test_evaluate_rules_command_reports_progress(open_kc, claims):
    from io import StringIO

    from django.core.management import call_command

    MembershipRule.objects.create(
        community=open_kc, name="Claims", mode="additive", groups=[{"departments": [claims.pk]}]
    )
    member_named("Ann Adjuster", department=claims)
    out = StringIO()
    call_command("evaluate_rules", "--community", open_kc.slug, stdout=out)
    assert "1 added, 0 removed" in out.getvalue()
    out = StringIO()
    call_command("evaluate_rules", stdout=out)
    assert "0 added, 0 removed" in out.getvalue()


# -- the page ---------------------------------------------------------------------------


def _rules_url(community):
    return f"/c/{community.slug}/manage/rules/"


def test_preview_shows_counts_and_names_and_saves_nothing(client, open_kc, steward, claims):
    member_named("Ann Adjuster", department=claims)
    client.force_login(steward)
    response = client.post(
        _rules_url(open_kc),
        {"name": "Claims", "mode": "additive", "departments_1": [claims.pk], "action": "preview"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "1 person would be added" in page and "Ann Adjuster" in page
    assert "0 people would be removed" in page
    assert not MembershipRule.objects.exists()


def test_save_and_apply_needs_confirmation(client, open_kc, steward, claims):
    ann = member_named("Ann Adjuster", department=claims)
    client.force_login(steward)
    data = {"name": "Claims", "mode": "additive", "departments_1": [claims.pk], "action": "apply"}
    response = client.post(_rules_url(open_kc), data)
    assert response.status_code == 200 and "Tick the box" in response.content.decode()
    assert not MembershipRule.objects.exists()
    response = client.post(_rules_url(open_kc), {**data, "confirm": "on"})
    assert response.status_code == 302
    assert open_kc.memberships.get(member=ann).state == State.ACTIVE
    manage = client.get(f"/c/{open_kc.slug}/manage/").content.decode()
    assert "By rule" in manage


def test_a_rule_with_no_condition_is_refused_with_a_message(client, open_kc, steward):
    client.force_login(steward)
    response = client.post(
        _rules_url(open_kc),
        {"name": "Everyone", "mode": "strict", "action": "apply", "confirm": "on"},
    )
    assert "Fill in at least one condition" in response.content.decode()
    assert not MembershipRule.objects.exists()


def test_outsiders_and_other_stewards_cannot_see_or_set_rules(
    client, open_kc, other_steward, staff
):
    for user in (other_steward, staff):
        client.force_login(user)
        assert client.get(_rules_url(open_kc)).status_code == 403
        client.post(_rules_url(open_kc), {"name": "x", "mode": "strict", "job_title_1": "a"})
    assert not MembershipRule.objects.exists()


def test_remove_rule_keeps_its_people(client, open_kc, directory_admin, claims):
    ann = member_named("Ann Adjuster", department=claims)
    services.save_rule(
        community=open_kc,
        name="Claims",
        mode="strict",
        groups=[{"departments": [claims.pk]}],
        member=None,
    )
    client.force_login(directory_admin)
    manage = f"/c/{open_kc.slug}/manage/"
    assert "By rule" in client.get(manage).content.decode()
    assert client.post(_rules_url(open_kc), {"action": "remove"}).status_code == 302
    assert not MembershipRule.objects.exists()
    assert open_kc.memberships.get(member=ann).state == State.ACTIVE
    assert "By rule" not in client.get(manage).content.decode()  # not a stale cached page


@pytest.mark.parametrize("people", [5, 60])
def test_preview_query_budget_does_not_grow_with_people(
    client, open_kc, steward, claims, django_assert_max_num_queries, people
):
    for _number in range(people):
        MemberFactory(department=claims)
    person_in(open_kc, State.ACTIVE)
    client.force_login(steward)
    with django_assert_max_num_queries(14):
        response = client.post(
            _rules_url(open_kc),
            {"name": "Claims", "mode": "strict", "departments_1": [claims.pk], "action": "preview"},
        )
    page = response.content.decode()
    assert f"{people} people would be added" in page
    assert "1 person would be removed" in page
    assert "2 people would stay without matching" in page


# -- hooks ------------------------------------------------------------------------------


def test_an_hr_sync_applies_the_rules_to_the_people_it_changes_and_creates(open_kc):
    from .test_sync_people import everyone_but, hr_csv, row_for, sync_file

    rule = MembershipRule.objects.create(
        community=open_kc, name="Actuaries", mode="additive", groups=[{"job_title": "actuary"}]
    )
    ann = member_named("Ann Adjuster", username="ann", job_title="Adjuster")
    rows = [
        *everyone_but(ann),
        row_for(ann, job_title="Chief Actuary"),
        {
            "username": "newbie",
            "email": "n@example.com",
            "display_name": "Nia New",
            "job_title": "Actuary",
        },
    ]
    sync_file(hr_csv(rows))
    names = set(rule.marks.values_list("membership__member__display_name", flat=True))
    assert names == {"Ann Adjuster", "Nia New"}
    event = MembershipEvent.objects.get(target=ann, action=MembershipEvent.Action.ADDED)
    assert event.actor_name == "Rule “Actuaries”"
    _assert_counts_exact(open_kc)


def test_a_scim_group_setting_a_department_applies_the_rules(open_kc, claims):
    from provisioning import services as provisioning_services
    from provisioning.models import ProvisionedGroup

    MembershipRule.objects.create(
        community=open_kc, name="Claims", mode="additive", groups=[{"departments": [claims.pk]}]
    )
    ann = member_named("Ann Adjuster", username="ann")
    group = ProvisionedGroup.objects.create(display_name="Claims", department=claims)
    provisioning_services._add_to_group(group, [ann], "Okta")
    assert open_kc.memberships.get(member=ann).state == State.ACTIVE
    provisioning_services._remove_from_group(group, [ann], "Okta")
    assert open_kc.memberships.get(member=ann).state == State.REMOVED
    _assert_counts_exact(open_kc)
