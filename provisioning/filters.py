"""SCIM ``filter`` expressions as Django QuerySets (scim2-filter-parser's Django
transpiler), so lists are counted and paged in the database."""

from scim2_filter_parser.parser import SCIMParserError
from scim2_filter_parser.transpilers.django_q_object import get_query

from . import services
from .models import ProvisionedGroup


class FilterError(ValueError):
    pass


class _Filter:
    attr_map: dict = {}

    @classmethod
    def queryset(cls):
        raise NotImplementedError

    @classmethod
    def search(cls, filter_query: str, request=None):
        try:
            return cls.queryset().filter(get_query(filter_query, cls.attr_map))
        except (SCIMParserError, ValueError, KeyError, TypeError) as error:
            raise FilterError(str(error) or repr(error)) from error


class UserFilter(_Filter):
    attr_map = {
        # attribute, sub-attribute, schema: Django lookup
        ("userName", None, None): "username",
        ("externalId", None, None): "provisioned__external_id",
        ("id", None, None): "pk",
        ("displayName", None, None): "member__display_name",
        ("name", "givenName", None): "first_name",
        ("name", "familyName", None): "last_name",
        ("emails", "value", None): "email",
        ("emails", None, None): "email",
        ("active", None, None): "is_active",
        ("title", None, None): "member__job_title",
    }

    @classmethod
    def queryset(cls):
        return services.provisionable_users()


class GroupFilter(_Filter):
    attr_map = {
        ("displayName", None, None): "display_name",
        ("externalId", None, None): "external_id",
        ("id", None, None): "pk",
    }

    @classmethod
    def queryset(cls):
        return ProvisionedGroup.objects.all()
