"""SAML 2.0 sign-in (SP-initiated, Web Browser SSO profile).

``login`` sends the person to their provider with an AuthnRequest, remembering its ID;
the provider POSTs its response to ``acs``, which accepts only a signed assertion
answering that request, addressed to kcdir, unexpired and never seen before. Every
refusal is a 400 page in plain words, logged (without the response) at warning.
"""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import assertions, providers, saml_sp, services
from .claims import mapped
from .saml_settings import SAMLUnavailable

logger = logging.getLogger(__name__)

PENDING = "identity_saml_pending"  # session: {"provider", "request_id", "next"}


@login_not_required
@never_cache
def login(request, key):
    provider = providers.get("saml", key)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    try:
        url, request_id = saml_sp.authn_request(provider)
    except SAMLUnavailable as error:
        logger.warning("SAML sign-in with %s not started: %s", provider.key, error)
        return _unavailable(request, provider)
    request.session[PENDING] = {"provider": key, "request_id": request_id, "next": next_url}
    return HttpResponseRedirect(url)


@csrf_exempt
@login_not_required
@never_cache
def acs(request, key):
    provider = providers.by_key(key)
    if provider is None or provider.protocol != "saml":
        return _refused(
            request,
            _("kcdir does not know the sign-in service this came from."),
            f"no SAML provider {key!r}",
        )
    saml_response = request.POST.get("SAMLResponse", "")
    if request.method != "POST" or not saml_response:
        return _refused(
            request,
            _("This address only takes a sign-in response from %(provider)s.")
            % {"provider": provider.name},
            f"{request.method} without a SAMLResponse",
        )
    pending = request.session.get(PENDING)
    if not pending and not request.POST.get("relayed"):
        # The provider's POST comes from another site, so browsers leave out kcdir's
        # session cookie (SameSite=Lax): post the response once more from kcdir's own
        # page, which they send it with.
        return render(
            request,
            "identity/saml_continue.html",
            {"saml_response": saml_response, "relay_state": request.POST.get("RelayState", "")},
        )
    pending = request.session.pop(PENDING, None)  # one response per request
    if not pending or pending.get("provider") != key:
        return _refused(
            request,
            _(
                "This sign-in did not start at kcdir, or it has already been used. "
                "Start again from the sign-in page."
            ),
            "no sign-in pending in this session (provider-initiated, or replayed)",
        )
    try:
        assertion = saml_sp.verified(provider, saml_response, request_id=pending["request_id"])
        assertions.accept_assertion(
            provider=provider, assertion_id=assertion.assertion_id, expires_at=assertion.expires_at
        )
        claims = mapped(provider, assertion.name_id, assertion.attributes)
        user = services.account_for(provider, claims)
    except SAMLUnavailable as error:
        logger.warning("SAML response from %s not checked: %s", provider.key, error)
        return _unavailable(request, provider)
    except saml_sp.ResponseRefused as error:
        return _refused(request, str(error), f"{provider.key}: {error.detail}")
    except services.SignInRefused as error:
        return _refused(request, str(error), f"{provider.key}: {error}")
    services.sign_in(request, provider, user)
    return HttpResponseRedirect(pending.get("next") or resolve_url(settings.LOGIN_REDIRECT_URL))


@login_not_required
def metadata(request, key):
    provider = providers.get("saml", key)
    try:
        xml = saml_sp.metadata_xml(provider)
    except SAMLUnavailable as error:
        logger.warning("SAML metadata for %s not available: %s", provider.key, error)
        return HttpResponse(
            _("kcdir's SAML settings for this provider are incomplete; see the server log."),
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(xml, content_type="application/xml")


def _refused(request, reason: str, detail: str):
    logger.warning("SAML sign-in refused: %s", detail)
    return render(request, "identity/sign_in_failed.html", {"message": reason}, status=400)


def _unavailable(request, provider):
    reason = _(
        "kcdir cannot reach %(provider)s right now. Try again in a few minutes, "
        "or tell your IT service desk if it goes on."
    ) % {"provider": provider.name}
    return render(request, "identity/sign_in_failed.html", {"message": reason}, status=400)
