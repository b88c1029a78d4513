from django.contrib import admin
from django.urls import include, path

from . import ratelimit, views

admin.site.site_header = "kcdir administration"
admin.site.site_title = "kcdir admin"

handler403 = "kcdir.views.permission_denied"
handler500 = "kcdir.views.server_error"

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("", include("communities.urls")),
    path("", include("communities.people_urls")),
    # Before the auth URLs, so this rate-limited view answers for "password_reset".
    path("accounts/password_reset/", ratelimit.password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
