from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("people/", views.member_list, name="member_list"),
    path("people/<str:username>/", views.member_detail, name="member_detail"),
    path("people/<str:username>/history/", views.member_history, name="member_history"),
    path("me/communities/", views.my_communities, name="my_communities"),
    path("me/profile/", views.profile_edit, name="profile_edit"),
]
