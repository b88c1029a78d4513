"""The insights pages. No ``app_name``: communities/urls.py includes these into the
``communities`` namespace with ``path("", include("communities.insight_urls"))``."""

from django.urls import path

from . import insight_views

urlpatterns = [
    path("map/", insight_views.knowledge_map, name="knowledge_map"),
    path("connectors/", insight_views.connectors, name="connectors"),
    path("expertise/", insight_views.expertise, name="expertise"),
    path("insights/", insight_views.insights_overview, name="insights"),
    path("insights/<slug:chart>.csv", insight_views.insights_csv, name="insights_csv"),
]
