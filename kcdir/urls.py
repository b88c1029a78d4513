from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "kcdir administration"
admin.site.site_title = "kcdir admin"

urlpatterns = [
    path("", include("communities.urls")),
    path("", include("members.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
