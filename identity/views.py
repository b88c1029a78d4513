from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import reverse

from . import providers, saml_settings


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
        # The "Sign in with" buttons POST to kcdir, which redirects to the provider:
        # the page's CSP form-action must allow where that redirect goes.
        origins = saml_settings.sign_in_origins(providers.configured("saml"))
        if origins:
            response._csp_update = {"form-action": origins}
        return response
