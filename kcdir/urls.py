from django.contrib import admin
from django.urls import include, path

from identity import views as identity_views

from . import ratelimit, throttle, views

admin.site.site_header = "kcdir administration"
admin.site.site_title = "kcdir admin"

handler403 = "kcdir.views.permission_denied"
handler500 = "kcdir.views.server_error"

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("", include("communities.urls")),
    path("", include("communities.people_urls")),
    # Before the auth URLs, so this rate-limited view answers for "password_reset".
    path(
        "accounts/password_reset/",
        identity_views.unless_passwords_are_off(ratelimit.password_reset),
        name="password_reset",
    ),
    # Likewise: the old password is checked, and throttled, as a sign-in.
    path(
        "accounts/password_change/",
        identity_views.unless_passwords_are_off(throttle.password_change),
        name="password_change",
    ),
    # Before the auth URLs: the sign-in page offers the identity providers too.
    path("accounts/login/", identity_views.LoginView.as_view(), name="login"),
    # Likewise: sign-out ends the session and may offer the identity provider's own.
    path("accounts/logout/", identity_views.logout, name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("sso/", include("identity.urls")),
    path("", include("background.urls")),
    path("admin/", admin.site.urls),
    path("scim/v2/", include("provisioning.scim_urls")),
    path("", include("provisioning.urls")),
]
