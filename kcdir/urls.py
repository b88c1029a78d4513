from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = "kcdir administration"
admin.site.site_title = "kcdir admin"

handler403 = "kcdir.views.permission_denied"

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("", include("communities.urls")),
    path("", include("members.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
