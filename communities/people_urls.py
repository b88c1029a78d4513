"""The people pages' addresses, in the ``members`` namespace: the people directory,
profiles and their history (``people_views``), one's own communities and profile."""

from django.urls import path, register_converter

from . import people_views as views


class UsernameConverter:
    """The characters Django's username validator allows (never a NUL byte or slash)."""

    regex = r"[\w.@+-]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(UsernameConverter, "username")

app_name = "members"

urlpatterns = [
    path("people/", views.member_list, name="member_list"),
    path("people/<username:username>/", views.member_detail, name="member_detail"),
    path("people/<username:username>/history/", views.member_history, name="member_history"),
    path("me/communities/", views.my_communities, name="my_communities"),
    path("me/profile/", views.profile_edit, name="profile_edit"),
]
