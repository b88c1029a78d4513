"""Bearer-token authentication for the SCIM endpoints (django-scim2's
``AUTH_CHECK_MIDDLEWARE``, wrapped around each SCIM view): a missing, unknown or
revoked token is answered 401 with a SCIM error, before the view runs."""

import json

from django.http import HttpResponse
from django_scim import constants

from . import services

WWW_AUTHENTICATE = 'Bearer realm="kcdir SCIM"'


def scim_error(status: int, detail: str, scim_type: str | None = None) -> HttpResponse:
    body = {"schemas": [constants.SchemaURI.ERROR], "detail": detail, "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    return HttpResponse(json.dumps(body), content_type=constants.SCIM_CONTENT_TYPE, status=status)


def bearer_value(request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class BearerTokenCheck:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request, *args, **kwargs):
        token = services.authenticate_token(bearer_value(request))
        if token is None:
            response = scim_error(401, "A valid bearer token is required.")
            response["WWW-Authenticate"] = WWW_AUTHENTICATE
            return response
        request.scim_token = token
        return self.get_response(request, *args, **kwargs)
