from django.urls import path

from . import views

app_name = "background"

urlpatterns = [
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/download/", views.job_file, name="job_file"),
]
