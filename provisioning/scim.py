"""Adapters between SCIM 2.0 resources (RFC 7643) and kcdir's people and groups, for
django-scim2's views: they read a request's JSON into the plain values the services
take, and draw a person or group as SCIM JSON. No writes here: ``save`` and
``delete`` call ``provisioning.services``.

Both Entra ID's and Okta's PATCH shapes are read: capitalised ops ("Replace"),
booleans as strings ("False"), a path ("name.givenName",
"emails[type eq \"work\"].value", the enterprise extension's "…:User:department") or
none with a dict of attributes, and group members added, removed or replaced by list
or by ``members[value eq "id"]``. Attributes kcdir does not keep (phone numbers,
addresses, manager…) are accepted and ignored, as providers send them by default.
"""

import hashlib
import json
import re

from django.urls import reverse
from django.utils.translation import gettext as _
from django_scim import constants, exceptions
from django_scim.adapters import SCIMGroup, SCIMUser

from . import services

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = constants.SchemaURI.USER

# Lower-cased SCIM attribute paths (core schema prefix dropped) to the values
# ``services.save_user`` takes.
USER_PATHS = {
    "username": "username",
    "name.givenname": "first_name",
    "name.familyname": "last_name",
    "displayname": "display_name",
    "title": "job_title",
    "externalid": "external_id",
    "active": "active",
    f"{ENTERPRISE.lower()}:department": "department",
    "emails": "email",
    'emails[type eq "work"].value': "email",
    "emails[primary eq true].value": "email",
    "emails.value": "email",
}

MEMBER_FILTER = re.compile(r'^members\[\s*value\s+eq\s+"([^"]*)"\s*\]$', re.IGNORECASE)


def bad_request(detail: str, scim_type: str = "invalidValue"):
    return exceptions.BadRequestError(detail, scim_type=scim_type)


def as_bool(value, attribute: str = "active") -> bool:
    """true/false, and the strings "True"/"False" some providers send."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise bad_request(_("%s must be true or false.") % attribute)


def primary_email(value) -> str:
    """The primary address of an ``emails`` list (else the first), or a dict's."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise bad_request(_("emails must be a list of addresses."))
    ordered = sorted(value, key=lambda item: not item.get("primary"))
    return str(ordered[0].get("value") or "").strip() if ordered else ""


def _without_empty(resource: dict) -> dict:
    """Unassigned attributes are left out (RFC 7643 section 2.5), not sent as ""."""
    kept = {}
    for key, value in resource.items():
        if isinstance(value, dict):
            value = _without_empty(value)
        if value in ("", None, {}, []):
            continue
        kept[key] = value
    return kept


def etag_of(resource: dict) -> str:
    """A weak ETag of a resource's JSON (its ``meta`` aside): it changes whenever
    anything it shows does."""
    body = {key: value for key, value in resource.items() if key != "meta"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode())
    return f'W/"{digest.hexdigest()[:32]}"'


def _provider_name(request) -> str:
    token = getattr(request, "scim_token", None)
    return token.name if token is not None else _("the identity provider")


def _require_dict(body) -> dict:
    if not isinstance(body, dict):
        raise bad_request(_("The body must be a JSON object."), "invalidSyntax")
    return body


def _operations(operations):
    if not isinstance(operations, list) or not operations:
        raise bad_request(_("PATCH needs an Operations list."), "invalidSyntax")
    for operation in operations:
        if not isinstance(operation, dict):
            raise bad_request(_("Each operation must be a JSON object."), "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "remove", "replace"):
            raise bad_request(_("Unknown PATCH op %r.") % operation.get("op"), "invalidSyntax")
        yield op, operation.get("path"), operation.get("value")


class UserAdapter(SCIMUser):
    """A kcdir person (``auth.User`` with its ``Member``) as a SCIM User."""

    id_field = "pk"

    def __init__(self, obj, request=None):
        super().__init__(obj, request)
        self.values: dict = {}

    # -- reading a request --------------------------------------------------------------

    def validate_dict(self, d):
        _require_dict(d)
        if not str(d.get("userName") or "").strip():
            raise bad_request(_("userName is required."))

    def from_dict(self, d):
        """A whole resource (POST, PUT): attributes it leaves out are cleared."""
        name = d.get("name") or {}
        if not isinstance(name, dict):
            raise bad_request(_("name must be an object."))
        enterprise = d.get(ENTERPRISE) or {}
        if not isinstance(enterprise, dict):
            raise bad_request(_("The enterprise extension must be an object."))
        self.values = {
            "username": str(d.get("userName") or ""),
            "first_name": str(name.get("givenName") or ""),
            "last_name": str(name.get("familyName") or ""),
            "display_name": str(d.get("displayName") or ""),
            "job_title": str(d.get("title") or ""),
            "email": primary_email(d.get("emails")),
            "department": str(enterprise.get("department") or ""),
            "external_id": str(d.get("externalId") or ""),
        }
        if "active" in d:
            self.values["active"] = as_bool(d["active"])

    def handle_operations(self, operations):
        """PATCH: every operation read first, then saved once."""
        for op, path, value in _operations(operations):
            if not path:
                if not isinstance(value, dict):
                    raise bad_request(_("An operation without a path needs an object."), "noTarget")
                for key, item in value.items():
                    self._set(str(key), item, op)
            else:
                self._set(str(path), value, op)
        self.save()

    def _set(self, path: str, value, op: str) -> None:
        key = path.strip()
        if key.lower().startswith(CORE_USER.lower() + ":"):
            key = key[len(CORE_USER) + 1 :]
        lowered = key.lower()
        if lowered == ENTERPRISE.lower() and isinstance(value, dict):
            for sub_key, item in value.items():
                self._set(f"{ENTERPRISE}:{sub_key}", item, op)
            return
        if lowered == "name" and isinstance(value, dict):
            for sub_key, item in value.items():
                self._set(f"name.{sub_key}", item, op)
            return
        if op == "remove" and lowered == "name":
            self.values["first_name"] = self.values["last_name"] = ""
            return
        if op == "remove" and lowered == ENTERPRISE.lower():
            self.values["department"] = ""
            return
        field = USER_PATHS.get(lowered)
        if field is None:
            return  # an attribute kcdir does not keep
        if op == "remove":
            if field == "username":
                raise bad_request(_("userName cannot be removed."), "mutability")
            if field != "active":  # an account is active unless said otherwise
                self.values[field] = ""
            return
        if field == "active":
            self.values[field] = as_bool(value)
        elif field == "email":
            self.values[field] = primary_email(value)
        elif isinstance(value, dict | list):
            raise bad_request(_("%s must be a single value.") % path)
        else:
            self.values[field] = "" if value is None else str(value)

    # -- writing ------------------------------------------------------------------------

    def save(self):
        try:
            self.obj = services.save_user(
                user=self.obj if self.obj.pk else None,
                values=self.values,
                provider_name=_provider_name(self.request),
            )
        except services.ProvisioningConflict as error:
            raise exceptions.IntegrityError(str(error), scim_type="uniqueness") from error
        except services.ProvisioningError as error:
            raise bad_request(str(error)) from error

    def delete(self):
        """DELETE never deletes: it deactivates, as ``active: false`` does, and hides
        the person from the provider (404 from then on)."""
        services.deactivate_user(
            user=self.obj, provider_name=_provider_name(self.request), deleted=True
        )

    # -- drawing ------------------------------------------------------------------------

    @property
    def member(self):
        return getattr(self.obj, "member", None)

    @property
    def display_name(self):
        member = self.member
        if member is not None and member.display_name:
            return member.display_name
        return self.obj.get_full_name() or self.obj.username

    def to_dict(self):
        user, member = self.obj, self.member
        provisioned = getattr(user, "provisioned", None)
        department = member.department if member is not None else None
        department = department.name if department else ""
        resource = _without_empty(
            {
                "schemas": [CORE_USER, ENTERPRISE] if department else [CORE_USER],
                "id": self.id,
                "externalId": provisioned.external_id if provisioned else "",
                "userName": user.username,
                "name": {"givenName": user.first_name, "familyName": user.last_name},
                "displayName": self.display_name,
                "title": member.job_title if member is not None else "",
                "emails": [{"value": user.email}] if user.email else [],
                "active": user.is_active,
                ENTERPRISE: {"department": department},
            }
        )
        resource["meta"] = {
            "resourceType": self.resource_type,
            "created": user.date_joined.isoformat(),
            "lastModified": (member.updated_at if member else user.date_joined).isoformat(),
            "location": self.location,
            "version": etag_of(resource),
        }
        return resource

    @classmethod
    def resource_type_dict(cls, request=None):
        resource_type = super().resource_type_dict(request)
        resource_type["schemaExtensions"] = [{"schema": ENTERPRISE, "required": False}]
        return resource_type


class GroupAdapter(SCIMGroup):
    """A pushed group (``ProvisionedGroup``) as a SCIM Group: a department, or the
    membership list of the knowledge community it is linked to."""

    id_field = "pk"

    def __init__(self, obj, request=None):
        super().__init__(obj, request)
        self.values: dict = {}
        self.add: list = []
        self.remove: list = []
        self.members_to_set = None
        # Read for many groups at once by a list (``services.group_member_ids``).
        self.member_ids: list[int] | None = None

    @property
    def display_name(self):
        return self.obj.display_name

    def validate_dict(self, d):
        _require_dict(d)
        if not str(d.get("displayName") or "").strip():
            raise bad_request(_("displayName is required."))

    def from_dict(self, d):
        self.values = {
            "display_name": str(d.get("displayName") or ""),
            "external_id": str(d.get("externalId") or ""),
        }
        if "members" in d:
            try:
                self.members_to_set = services.members_of_users(self._ids(d["members"]))
            except services.ProvisioningError as error:
                raise bad_request(str(error)) from error

    @staticmethod
    def _ids(value) -> list[str]:
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise bad_request(_('members must be a list of {"value": id}.'))
        return [str(item.get("value")) for item in value]

    def handle_operations(self, operations):
        try:
            for op, path, value in _operations(operations):
                self._apply(op, str(path or "").strip(), value)
        except services.ProvisioningError as error:
            raise bad_request(str(error)) from error
        self.save()

    def _apply(self, op: str, path: str, value) -> None:
        single = MEMBER_FILTER.match(path)
        lowered = path.lower()
        if single and op == "remove":
            self.remove += services.members_of_users([single.group(1)])
        elif lowered == "members" and op == "add":
            self.add += services.members_of_users(self._ids(value))
        elif lowered == "members" and op == "remove":
            if value is None:
                self.members_to_set = []
            else:
                self.remove += services.members_of_users(self._ids(value))
        elif lowered == "members" and op == "replace":
            self.members_to_set = services.members_of_users(self._ids(value))
        elif lowered == "displayname" and op != "remove":
            self.values["display_name"] = str(value or "")
        elif lowered == "externalid":
            self.values["external_id"] = "" if op == "remove" else str(value or "")
        elif not path and isinstance(value, dict):
            for key, item in value.items():
                if key.lower() in ("displayname", "externalid", "members"):
                    self._apply(op, key, item)
        elif not path:
            raise bad_request(_("An operation without a path needs an object."), "noTarget")
        else:
            raise bad_request(_("Groups cannot change %s.") % path, "invalidPath")

    def save(self):
        try:
            self.obj = services.save_group(
                group=self.obj if self.obj.pk else None,
                values=self.values,
                provider_name=_provider_name(self.request),
                add=self.add,
                remove=self.remove,
                members=self.members_to_set,
            )
        except services.ProvisioningConflict as error:
            raise exceptions.IntegrityError(str(error), scim_type="uniqueness") from error
        except services.ProvisioningError as error:
            raise bad_request(str(error)) from error

    def delete(self):
        services.delete_group(group=self.obj)

    @property
    def members(self):
        user_ids = self.member_ids
        if user_ids is None:
            user_ids = services.group_member_ids([self.obj])[self.obj.pk]
        users = reverse("scim:users")
        base = base_location(self.request)
        return [
            {"value": str(user_id), "$ref": f"{base}{users}/{user_id}", "type": "User"}
            for user_id in user_ids
        ]

    def to_dict(self, *, with_members: bool = True):
        group = self.obj
        resource = _without_empty(
            {
                "schemas": [constants.SchemaURI.GROUP],
                "id": self.id,
                "externalId": group.external_id,
                "displayName": group.display_name,
            }
        )
        if with_members:
            resource["members"] = self.members
        resource["meta"] = {
            "resourceType": self.resource_type,
            "created": group.created_at.isoformat(),
            "lastModified": group.updated_at.isoformat(),
            "location": self.location,
        }
        if with_members:
            resource["meta"]["version"] = etag_of(resource)
        return resource


def base_location(request=None, *args, **kwargs) -> str:
    """Where resources' ``location`` points: the address the request reached."""
    return f"{request.scheme}://{request.get_host()}" if request is not None else ""


# What the Schemas endpoint publishes: the attributes kcdir keeps, from django-scim2's
# copies of the RFC 7643 schemas (a provider or checker reads it to learn what it may
# send and get back). {schema: {attribute: kept sub-attributes, or None}}.
KEPT_ATTRIBUTES = {
    CORE_USER: {
        "userName": None,
        "name": {"givenName", "familyName"},
        "displayName": None,
        "title": None,
        "active": None,
        "emails": {"value"},
    },
    constants.SchemaURI.GROUP: {"displayName": None, "members": {"value", "$ref", "type"}},
    ENTERPRISE: {"department": None},
}
# One address is kept (the primary one a provider sends, else its first): only its value.
READ_ONLY: set[tuple[str, str]] = set()
# RFC 7643 section 4.2 says a group's displayName is REQUIRED.
REQUIRED = {(constants.SchemaURI.GROUP, "displayName")}


def _kept_schema(schema: dict) -> dict:
    kept = KEPT_ATTRIBUTES.get(schema["id"])
    if kept is None:
        return schema
    attributes = []
    for attribute in schema["attributes"]:
        name = attribute["name"]
        if name not in kept:
            continue
        attribute = {**attribute}
        if (schema["id"], name) in REQUIRED:
            attribute["required"] = True
        if kept[name] is not None:
            attribute["subAttributes"] = [
                {**sub, "mutability": "readOnly"} if (name, sub["name"]) in READ_ONLY else sub
                for sub in attribute.get("subAttributes", [])
                if sub["name"] in kept[name]
            ]
        attributes.append(attribute)
    return {**schema, "attributes": attributes}


def schemas() -> list[dict]:
    """django-scim2's ``SCHEMAS_GETTER``: its schemas, narrowed to what kcdir keeps."""
    from django_scim.schemas import ALL

    return [_kept_schema(schema) for schema in ALL]


def project(resource: dict, *, attributes: str = "", excluded: str = "") -> dict:
    """``resource`` with only the ``attributes`` asked for, or without the ``excluded``
    ones (RFC 7644 section 3.4.2.5: comma-separated names, "name.givenName" for a
    sub-attribute, the full URN for an extension's). ``id`` and ``schemas`` always stay."""

    def parse(text: str) -> list[tuple[str, str | None]]:
        paths = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            if item.lower().startswith(ENTERPRISE.lower() + ":"):
                paths.append((ENTERPRISE, item[len(ENTERPRISE) + 1 :]))
                continue
            if item.lower().startswith(CORE_USER.lower() + ":"):
                item = item[len(CORE_USER) + 1 :]
            top, _dot, sub = item.partition(".")
            paths.append((top, sub or None))
        return paths

    def key_of(name: str) -> str | None:
        for key in resource:
            if key.lower() == name.lower():
                return key
        return None

    always = {"id", "schemas"}
    if attributes:
        result = {key: resource[key] for key in always if key in resource}
        for top, sub in parse(attributes):
            key = key_of(top)
            if key is None:
                continue
            value = resource[key]
            if sub and isinstance(value, dict):
                sub_key = next((k for k in value if k.lower() == sub.lower()), None)
                if sub_key is not None:
                    result.setdefault(key, {})[sub_key] = value[sub_key]
            else:
                result[key] = value
        return result
    result = dict(resource)
    for top, sub in parse(excluded):
        key = key_of(top)
        if key is None or key in always:
            continue
        if sub and isinstance(result[key], dict):
            result[key] = {k: v for k, v in result[key].items() if k.lower() != sub.lower()}
        elif not sub:
            del result[key]
    return result
