from functools import wraps

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from communities.access import may_sign_in_with_password

from . import oidc, providers, services


class LoginView(auth_views.LoginView):
    """Django's sign-in page, offering "Sign in with <provider>" for every configured
    identity provider, and the password form unless ``KCDIR_PASSWORD_LOGIN`` is off
    (superusers then sign in through the admin's own page)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["identity_providers"] = providers.sign_in_choices()
        context["password_login"] = settings.KCDIR_PASSWORD_LOGIN
        context["admin_login_url"] = reverse("admin:login")
        return context

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        # The providers' buttons post here, and are sent on to the provider: browsers
        # hold that redirect to this page's form-action too.
        origins = providers.form_action_origins()
        if origins:
            response._csp_update = {"form-action": origins}
        return response


@require_POST
def logout(request):
    """Sign out: the session ends in the session store, so its cookie is refused by
    every app process. A session signed in through an OIDC provider that offers its own
    sign-out then gets a page offering that too; others go to the sign-in page."""
    provider = providers.by_key(request.session.get(services.SESSION_PROVIDER, ""))
    end_session_url = None
    if provider is not None and provider.protocol == "oidc":
        end_session_url = oidc.end_session_url(request, provider)
    auth.logout(request)
    if end_session_url is None:
        return redirect(settings.LOGOUT_REDIRECT_URL)
    context = {"provider": provider, "end_session_url": end_session_url}
    return render(request, "identity/signed_out.html", context)


def unless_passwords_are_off(view):
    """``view`` (password reset or change) for people who sign in with a password; for
    everyone else, when ``KCDIR_PASSWORD_LOGIN`` is off, a page saying passwords are not
    used here (and nothing sent)."""

    @wraps(view)
    def password_view(request, *args, **kwargs):
        if may_sign_in_with_password(request.user):
            return view(request, *args, **kwargs)
        return render(request, "registration/passwords_not_used.html")

    return password_view
