"""Who may see a job's page: whoever started it, and superusers."""

from django.http import Http404

from .models import Job


def job_for_viewer(user, pk: int) -> Job:
    job = Job.objects.filter(pk=pk).first()
    if job is None:
        raise Http404("No such job.")
    if job.started_by_id != user.pk and not user.is_superuser:
        raise Http404("No such job.")
    return job
