"""``/scim/v2/``: the SCIM 2.0 service (RFC 7644) for identity providers. Bearer
tokens only (no session, no CSRF), rate-limited per address. The names are the ones
django-scim2 reverses (namespace ``scim``)."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from kcdir import ratelimit
from kcdir.client import client_address

from . import scim_views
from .scim_auth import scim_error

app_name = "scim"

SCIM_RATE_PERIOD = 60  # settings.SCIM_RATE_LIMIT requests per address a minute


def _too_many(request, *args, **kwargs):
    return scim_error(429, "Too many requests; slow down and retry.", "tooMany")


def scim_endpoint(view_class, **initkwargs):
    """The view, past the sign-in requirement (bearer tokens instead) and under the
    per-address limit, read from settings at each request."""
    view = view_class.as_view(**initkwargs)

    @wraps(view)
    def limited(request, *args, **kwargs):
        address = client_address(request) or "unknown"
        limit = settings.SCIM_RATE_LIMIT
        if not ratelimit.allow("scim", address, limit=limit, period=SCIM_RATE_PERIOD):
            ratelimit.security_log.warning(
                "Rate limited: scope=scim address=%s %s %s", address, request.method, request.path
            )
            return _too_many(request)
        return view(request, *args, **kwargs)

    return login_not_required(limited)


urlpatterns = [
    path("", scim_endpoint(scim_views.NotImplementedView), name="root"),
    # Searching by POST (RFC 7644 section 3.4.3) is not offered: lists take ``filter``.
    path(".search", scim_endpoint(scim_views.NotImplementedView), name="search"),
    path("Users/.search", scim_endpoint(scim_views.NotImplementedView), name="users-search"),
    path("Groups/.search", scim_endpoint(scim_views.NotImplementedView), name="groups-search"),
    re_path(r"^Users(?:/(?P<uuid>[^/]+))?$", scim_endpoint(scim_views.UsersView), name="users"),
    re_path(r"^Groups(?:/(?P<uuid>[^/]+))?$", scim_endpoint(scim_views.GroupsView), name="groups"),
    path(
        "ServiceProviderConfig",
        scim_endpoint(scim_views.ServiceProviderConfigView),
        name="service-provider-config",
    ),
    re_path(
        r"^ResourceTypes(?:/(?P<uuid>[^/]+))?$",
        scim_endpoint(scim_views.ResourceTypesView),
        name="resource-types",
    ),
    re_path(
        r"^Schemas(?:/(?P<uuid>[^/]+))?$",
        scim_endpoint(scim_views.SchemasView),
        name="schemas",
    ),
    # Last: any other address under the service is a SCIM 404.
    re_path(r"^.*$", login_not_required(csrf_exempt(scim_views.not_found)), name="not_found"),
]
