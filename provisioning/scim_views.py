"""The SCIM 2.0 endpoints: django-scim2's views, with what kcdir adds.

- each request is one transaction (a refusal part-way leaves nothing changed);
- lists are filtered, counted and paged in the database (``filters``), at most
  ``MAX_COUNT`` a page, with the rows each resource shows read in the same queries;
- ETags: every resource carries ``meta.version`` and an ``ETag`` header;
  ``If-Match`` on PUT, PATCH and DELETE answers 412 when it is stale, and
  ``If-None-Match`` on GET 304 when it is current;
- unknown or malformed ids are 404; a malformed body is 400 with a SCIM error.
"""

import json

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from django.views.generic import View
from django_scim import constants, exceptions
from django_scim import views as scim_views
from django_scim.models import SCIMServiceProviderConfig
from django_scim.utils import get_base_scim_location_getter

from . import filters, services
from .models import ProvisionedGroup
from .scim import GroupAdapter, UserAdapter, etag_of, project
from .scim_auth import BearerTokenCheck

SCHEMA_URI = "urn:ietf:params:scim:schemas:core:2.0:Schema"

MAX_COUNT = 200


def _scim_json(document: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(
        json.dumps(document), content_type=constants.SCIM_CONTENT_TYPE, status=status
    )


class AtomicRequest(View):
    """Sits between django-scim2's error handling and the handler, so that an error
    raised part-way rolls back everything the request wrote before it is answered."""

    def dispatch(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().dispatch(request, *args, **kwargs)


class ResourceView(scim_views.SCIMView):
    queryset = None
    filter_class = None

    def get_object(self, *, lock: bool = False):
        queryset = self.queryset()
        if lock:  # for the rest of the request's transaction
            queryset = queryset.select_for_update(of=("self",))
        try:
            return queryset.get(pk=int(self.kwargs["uuid"]))
        except (ValueError, ObjectDoesNotExist):
            raise exceptions.NotFoundError(self.kwargs["uuid"]) from None

    def load_body(self, body):
        try:
            data = json.loads(body.decode(constants.ENCODING) or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise exceptions.BadRequestError(
                f"Could not decode JSON body: {error}", scim_type="invalidSyntax"
            ) from error
        if not isinstance(data, dict):
            raise exceptions.BadRequestError(
                "The body must be a JSON object.", scim_type="invalidSyntax"
            )
        return data

    # -- ETags --------------------------------------------------------------------------

    def _resource(self, obj) -> dict:
        return self.scim_adapter(obj, request=self.request).to_dict()

    def _check_if_match(self, request):
        expected = request.headers.get("If-Match")
        if not expected or expected.strip() == "*":
            return
        # Locked, so nobody changes it between this check and the write; then read again,
        # in a statement of its own: the locking one may have waited for another write,
        # and (READ COMMITTED) would show the rows it joins as they were before it.
        self.get_object(lock=True)
        current = etag_of(self._resource(self.get_object()))
        if current not in [tag.strip() for tag in expected.split(",")]:
            raise exceptions.SCIMException(
                "The resource changed since it was read (If-Match).", status=412
            )

    @staticmethod
    def _with_etag(response):
        if 200 <= response.status_code < 300 and response.content:
            version = json.loads(response.content).get("meta", {}).get("version")
            if version:
                response["ETag"] = version
        return response

    @staticmethod
    def _projected(request, resource: dict) -> dict:
        return project(
            resource,
            attributes=request.GET.get("attributes", ""),
            excluded=request.GET.get("excludedAttributes", ""),
        )

    def get(self, request, *args, **kwargs):
        if not kwargs.get("uuid"):
            return self.get_many(request)
        adapter = self.scim_adapter(self.get_object(), request=request)
        resource = adapter.to_dict()
        etag = resource["meta"]["version"]
        if etag == request.headers.get("If-None-Match"):
            return HttpResponse(status=304, headers={"ETag": etag})
        response = _scim_json(self._projected(request, resource))
        response["ETag"], response["Location"] = etag, adapter.location
        return response

    def post(self, request, *args, **kwargs):
        return self._with_etag(super().post(request, *args, **kwargs))

    def put(self, request, *args, **kwargs):
        self._check_if_match(request)
        return self._with_etag(super().put(request, *args, **kwargs))

    def patch(self, request, *args, **kwargs):
        self._check_if_match(request)
        return self._with_etag(super().patch(request, *args, **kwargs))

    def delete(self, request, *args, **kwargs):
        self._check_if_match(request)
        return super().delete(request, *args, **kwargs)

    # -- lists --------------------------------------------------------------------------

    def _page(self, request):
        start, count = super()._page(request)
        return start, max(0, min(count, MAX_COUNT))

    def get_many(self, request):
        query = request.GET.get("filter")
        if query:
            return self._search(request, query, *self._page(request))
        return self._build_response(request, self.queryset(), *self._page(request))

    def _search(self, request, query, start, count):
        try:
            queryset = self.filter_class.search(query, request)
        except filters.FilterError as error:
            raise exceptions.BadRequestError(
                f"Invalid filter: {error}", scim_type="invalidFilter"
            ) from error
        return self._build_response(request, queryset, start, count)

    def _build_response(self, request, queryset, start, count):
        queryset = queryset.order_by("pk")
        total = queryset.count()
        page = list(queryset[start - 1 : start - 1 + count]) if count else []
        document = {
            "schemas": [constants.SchemaURI.LIST_RESPONSE],
            "totalResults": total,
            "itemsPerPage": len(page),
            "startIndex": start,
            "Resources": self.draw_many(request, page),
        }
        return HttpResponse(json.dumps(document), content_type=constants.SCIM_CONTENT_TYPE)

    def draw_many(self, request, objects) -> list[dict]:
        return [
            self._projected(request, self.scim_adapter(obj, request=request).to_dict())
            for obj in objects
        ]


# django-scim2 asks its views for these through functions.
def _user_adapter():
    return UserAdapter


def _group_adapter():
    return GroupAdapter


def _group_model():
    return ProvisionedGroup


def _users():
    return services.provisionable_users().select_related("member__department", "provisioned")


class UsersView(
    ResourceView,
    scim_views.FilterMixin,
    scim_views.GetView,
    scim_views.PostView,
    scim_views.PutView,
    scim_views.PatchView,
    scim_views.DeleteView,
    AtomicRequest,
):
    http_method_names = ["get", "post", "put", "patch", "delete"]
    scim_adapter_getter = _user_adapter
    model_cls_getter = get_user_model
    queryset = staticmethod(_users)
    filter_class = filters.UserFilter

    def _build_response(self, request, queryset, start, count):
        return super()._build_response(
            request, queryset.select_related("member__department", "provisioned"), start, count
        )


class GroupsView(
    ResourceView,
    scim_views.FilterMixin,
    scim_views.GetView,
    scim_views.PostView,
    scim_views.PutView,
    scim_views.PatchView,
    scim_views.DeleteView,
    AtomicRequest,
):
    http_method_names = ["get", "post", "put", "patch", "delete"]
    scim_adapter_getter = _group_adapter
    model_cls_getter = _group_model
    queryset = ProvisionedGroup.objects.all
    filter_class = filters.GroupFilter

    def draw_many(self, request, objects) -> list[dict]:
        excluded = {
            name.strip().lower()
            for name in request.GET.get("excludedAttributes", "").split(",")
            if name.strip()
        }
        with_members = "members" not in excluded
        member_ids = services.group_member_ids(objects) if with_members else {}
        drawn = []
        for group in objects:
            adapter = GroupAdapter(group, request=request)
            adapter.member_ids = member_ids.get(group.pk)
            drawn.append(self._projected(request, adapter.to_dict(with_members=with_members)))
        return drawn


class ServiceProviderConfig(SCIMServiceProviderConfig):
    def to_dict(self):
        return {
            "schemas": [constants.SchemaURI.SERVICE_PROVIDER_CONFIG],
            "documentationUri": None,
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MAX_COUNT},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": True},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "OAuth Bearer Token",
                    "description": "A token a directory admin creates in kcdir.",
                    "primary": True,
                }
            ],
            "meta": self.meta,
        }


class ServiceProviderConfigView(scim_views.ServiceProviderConfigView):
    pass


class _DiscoveryList:
    """Lists with their counts (RFC 7644 3.4.2), and unknown ids answered with a SCIM
    error body, as for any other resource."""

    def documents(self, request) -> dict:
        raise NotImplementedError

    def get(self, request, uuid=None, *args, **kwargs):
        documents = self.documents(request)
        if uuid:
            if uuid not in documents:
                raise exceptions.NotFoundError(uuid)
            return _scim_json(documents[uuid])
        resources = [documents[key] for key in sorted(documents)]
        return _scim_json(
            {
                "schemas": [constants.SchemaURI.LIST_RESPONSE],
                "totalResults": len(resources),
                "itemsPerPage": len(resources),
                "startIndex": 1,
                "Resources": resources,
            }
        )


class ResourceTypesView(_DiscoveryList, scim_views.ResourceTypesView):
    def documents(self, request) -> dict:
        documents = self.type_dict_by_type_id(request)
        for document in documents.values():
            # Relative to the service's base URL, as RFC 7643 section 6 has it.
            document["endpoint"] = f"/{document['name']}s"
        return documents


class SchemasView(_DiscoveryList, scim_views.SchemasView):
    def documents(self, request) -> dict:
        base = get_base_scim_location_getter()(request=request)
        return {
            uri: {
                "schemas": [SCHEMA_URI],
                **schema,
                "meta": {
                    "resourceType": "Schema",
                    "location": base + reverse("scim:schemas", kwargs={"uuid": uri}),
                },
            }
            for uri, schema in self.schemas_by_uri.items()
        }


def not_found(request, *args, **kwargs):
    """Anything else under the service: a SCIM 404, once the token is checked."""
    return _scim_error_view(request)


@BearerTokenCheck
def _scim_error_view(request):
    return _scim_json(
        {
            "schemas": [constants.SchemaURI.ERROR],
            "detail": f"No SCIM endpoint at {request.path}",
            "status": "404",
        },
        status=404,
    )


class NotImplementedView(scim_views.SCIMView):
    implemented = False

    def status_501(self, request, *args, **kwargs):
        return _scim_json(
            {
                "schemas": [constants.SchemaURI.ERROR],
                "detail": "Not offered by this service; see ServiceProviderConfig.",
                "status": "501",
            },
            status=501,
        )
