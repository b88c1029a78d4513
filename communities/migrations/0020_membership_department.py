"""``Membership.member_department_id``: the member's department on the membership row,
kept there by database triggers as ``sort_name`` is (migration 0008), so the directory's
department filter reads an index of memberships by department instead of the
department's people and each of their memberships.

- On every insert of a membership, and every update that writes its member or this
  column (every ``save()``), the department is taken from the member (what Django
  writes there is replaced); a member who moves department moves their memberships.
- An index on (department, state, community): a department's active communities are
  one range of it.
- PostgreSQL refuses DDL on a table with trigger events pending (the directory
  version's deferred trigger, migration 0006): the fill runs with constraints immediate.
"""

from django.db import migrations, models

PG_SQL = """
CREATE OR REPLACE FUNCTION kcdir_membership_department() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.member_department_id := (
        SELECT department_id FROM members_member WHERE id = NEW.member_id);
    RETURN NEW;
END $$;

CREATE TRIGGER kcdir_membership_department
    BEFORE INSERT OR UPDATE OF member_id, member_department_id ON communities_membership
    FOR EACH ROW EXECUTE FUNCTION kcdir_membership_department();

CREATE OR REPLACE FUNCTION kcdir_member_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE communities_membership SET member_department_id = NEW.department_id
        WHERE member_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER kcdir_member_moved
    AFTER UPDATE OF department_id ON members_member
    FOR EACH ROW WHEN (OLD.department_id IS DISTINCT FROM NEW.department_id)
    EXECUTE FUNCTION kcdir_member_moved();
"""

SQLITE_DEPARTMENT = "(SELECT department_id FROM members_member WHERE id = NEW.member_id)"
SQLITE_SQL = [
    f"""CREATE TRIGGER kcdir_membership_department_insert
        AFTER INSERT ON communities_membership
        WHEN NEW.member_department_id IS NOT {SQLITE_DEPARTMENT}
        BEGIN
            UPDATE communities_membership SET member_department_id = {SQLITE_DEPARTMENT}
                WHERE id = NEW.id;
        END""",  # noqa: S608
    f"""CREATE TRIGGER kcdir_membership_department_update
        AFTER UPDATE OF member_id, member_department_id ON communities_membership
        WHEN NEW.member_department_id IS NOT {SQLITE_DEPARTMENT}
        BEGIN
            UPDATE communities_membership SET member_department_id = {SQLITE_DEPARTMENT}
                WHERE id = NEW.id;
        END""",  # noqa: S608
    """CREATE TRIGGER kcdir_member_moved
        AFTER UPDATE OF department_id ON members_member
        WHEN OLD.department_id IS NOT NEW.department_id
        BEGIN
            UPDATE communities_membership SET member_department_id = NEW.department_id
                WHERE member_id = NEW.id;
        END""",
]

FILL = """
UPDATE communities_membership SET member_department_id = (
    SELECT department_id FROM members_member WHERE members_member.id = member_id)
"""


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # The directory version's trigger runs per statement here, so that no event is
        # pending when the index is built over the filled rows. Filled before its own
        # trigger exists, which would look the same department up again for each row.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(FILL)
        schema_editor.execute(PG_SQL)
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")
        return
    schema_editor.execute(FILL)
    if vendor == "sqlite":
        for statement in SQLITE_SQL:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS kcdir_membership_department ON communities_membership"
        )
        schema_editor.execute("DROP TRIGGER IF EXISTS kcdir_member_moved ON members_member")
        schema_editor.execute("DROP FUNCTION IF EXISTS kcdir_membership_department()")
        schema_editor.execute("DROP FUNCTION IF EXISTS kcdir_member_moved()")
    elif vendor == "sqlite":
        for name in ("department_insert", "department_update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS kcdir_membership_{name}")
        schema_editor.execute("DROP TRIGGER IF EXISTS kcdir_member_moved")


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0019_community_active_member_count"),
        ("members", "0003_inactive_users_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="member_department_id",
            field=models.IntegerField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(create, drop),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                fields=["member_department_id", "state", "community"],
                name="membership_by_department",
            ),
        ),
    ]
