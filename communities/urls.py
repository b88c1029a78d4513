from django.urls import path

from . import views

app_name = "communities"

urlpatterns = [
    path("", views.community_list, name="community_list"),
    path("c/<slug:slug>/", views.community_detail, name="community_detail"),
    path("purposes/", views.purpose_list, name="purpose_list"),
    path("purposes/<slug:slug>/", views.purpose_detail, name="purpose_detail"),
]
