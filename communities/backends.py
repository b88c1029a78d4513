from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections, router

from members.models import Member

from . import access


class MemberBackend(ModelBackend):
    """Django's model backend, loading with the user (every request does this) their
    Member and whether they are a directory admin: one query serves all three
    (``request.member`` reads ``user.member``; ``access.is_directory_admin`` the answer
    that ``access.remember_directory_admin`` keeps; the rule is ``access``'s own SQL).

    The query is written once, from the models' own columns, and reused: building it
    with the ORM on every request cost more than running it.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and not access.may_sign_in_with_password(user):
            return None
        return user

    def get_user(self, user_id):
        User = get_user_model()
        database = router.db_for_read(User)
        user_fields, member_fields, sql, admin_params = _user_query(database)
        try:
            user_id = User._meta.pk.to_python(user_id)
        except Exception:
            return None
        with connections[database].cursor() as cursor:
            cursor.execute(sql, [*admin_params, user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        row = _converted(database, [*user_fields, *member_fields], row)
        size = len(user_fields)
        user = User.from_db(database, [f.attname for f in user_fields], row[:size])
        member_row = row[size : size + len(member_fields)]
        if member_row[0] is not None:
            member = Member.from_db(database, [f.attname for f in member_fields], member_row)
            _set_related(user, member)
        access.remember_directory_admin(user, bool(row[-1]))
        return user if self.user_can_authenticate(user) else None


def _converted(database: str, fields, row) -> list:
    """The row's values as the ORM would give them (e.g. aware datetimes on SQLite)."""
    values = list(row)
    for index, column, converters in _converters(database, tuple(fields)):
        for convert in converters:
            values[index] = convert(values[index], column, connections[database])
    return values


@cache
def _converters(database: str, fields: tuple) -> list:
    connection = connections[database]
    found = []
    for index, field in enumerate(fields):
        column = field.get_col(field.model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found


def _set_related(user, member) -> None:
    """``user.member`` and ``member.user`` without another query."""
    Member.user.field.set_cached_value(member, user)
    Member.user.field.remote_field.set_cached_value(user, member)


@cache
def _user_query(database: str):
    """The user's and member's columns (in model order), the SQL that loads them with
    the directory-admin answer, and that answer's parameters (the user's id follows)."""
    User = get_user_model()
    connection = connections[database]
    quote = connection.ops.quote_name
    user_fields = User._meta.concrete_fields
    member_fields = Member._meta.concrete_fields
    user_table, member_table = quote(User._meta.db_table), quote(Member._meta.db_table)
    user_pk = f"{user_table}.{quote(User._meta.pk.column)}"
    columns = [f"{user_table}.{quote(f.column)}" for f in user_fields]
    columns += [f"{member_table}.{quote(f.column)}" for f in member_fields]
    member_user = quote(Member._meta.get_field("user").column)
    directory_admin, admin_params = access.directory_admin_sql(connection, user_pk)
    # Identifiers come from the models; the only values are parameters.
    sql = f"""
        SELECT {", ".join(columns)}, {directory_admin}
        FROM {user_table}
        LEFT OUTER JOIN {member_table} ON {member_table}.{member_user} = {user_pk}
        WHERE {user_pk} = %s
    """  # noqa: S608
    return user_fields, member_fields, sql, admin_params
