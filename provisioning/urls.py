from django.urls import path

from . import views

app_name = "provisioning"

urlpatterns = [
    path(
        "dashboard/provisioning/",
        views.provisioning_overview,
        name="provisioning_overview",
    ),
    path("dashboard/provisioning/tokens/", views.token_create, name="token_create"),
    path(
        "dashboard/provisioning/tokens/<int:pk>/revoke/",
        views.token_revoke,
        name="token_revoke",
    ),
    path("dashboard/provisioning/groups/<int:pk>/link/", views.group_link, name="group_link"),
]
