"""The invariant checks the fault tests end with find what they look for: each rule,
broken by hand in a copy of the seeded database, is reported, and the seeded data
breaks none."""

import sqlite3

import pytest

from .servers import INVARIANTS, Db, broken_invariants

pytestmark = pytest.mark.faults

BREAKAGES = {
    "an active knowledge community without exactly one active sponsor": (
        "UPDATE communities_membership SET role = 'member' WHERE role = 'sponsor' "
        "AND community_id = (SELECT id FROM communities_community WHERE slug = 'claims')"
    ),
    "an active knowledge community without an active steward": (
        "UPDATE communities_membership SET state = 'left' WHERE role = 'steward' "
        "AND community_id = (SELECT id FROM communities_community WHERE slug = 'claims')"
    ),
    "a membership whose latest history event says another state": (
        "INSERT INTO communities_membershipevent (community_id, target_id, target_name, "
        "actor_name, action, state_before, state_after, role_before, role_after, note, "
        "created_at) SELECT community_id, member_id, 'x', '', 'left', 'active', 'left', "
        "role, role, '', '2026-01-01' FROM communities_membership WHERE role = 'steward' "
        "AND community_id = (SELECT id FROM communities_community WHERE slug = 'open-kc')"
    ),
    "a history event that does not start where the one before it ended": None,  # below
    "a history event for a membership that does not exist": (
        "INSERT INTO communities_membershipevent (community_id, target_id, target_name, "
        "actor_name, action, state_before, state_after, role_before, role_after, note, "
        "created_at) SELECT (SELECT id FROM communities_community WHERE slug = 'bulk-kc'), "
        "m.id, 'x', '', 'joined', '', 'active', '', 'member', '', '2026-01-01' "
        "FROM members_member m WHERE m.display_name = 'Person 0001'"
    ),
}

EVENT = (
    "INSERT INTO communities_membershipevent (community_id, target_id, target_name, "
    "actor_name, action, state_before, state_after, role_before, role_after, note, "
    "created_at) SELECT c.id, m.member_id, 'x', '', 'joined', ?, ?, '', 'member', '', "
    "'2026-01-01' FROM communities_membership m JOIN communities_community c "
    "ON c.id = m.community_id WHERE c.slug = 'open-kc' AND m.role = 'steward'"
)


def test_every_rule_is_listed_with_a_breakage():
    assert set(BREAKAGES) == set(INVARIANTS)


@pytest.mark.parametrize("rule", list(BREAKAGES))
def test_each_invariant_check_reports_its_rule_broken(rule, sqlite_database):
    with Db(sqlite_database.url) as db:
        assert broken_invariants(db) == {}
    connection = sqlite3.connect(sqlite_database.path, isolation_level=None)
    if BREAKAGES[rule] is None:  # two events that do not chain: left -> active, then active
        connection.execute(EVENT, ("left", "active"))
        connection.execute(EVENT, ("invited", "active"))
    else:
        connection.execute(BREAKAGES[rule])
    connection.close()

    with Db(sqlite_database.url) as db:
        assert rule in broken_invariants(db)
