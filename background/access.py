"""Who may see a job's page and its download: whoever started it, and superusers."""

from django.http import Http404

from .models import Job, JobFile


def job_for_viewer(user, pk: int) -> Job:
    job = Job.objects.filter(pk=pk).first()
    if job is None:
        raise Http404("No such job.")
    if job.started_by_id != user.pk and not user.is_superuser:
        raise Http404("No such job.")
    return job


def job_file_for_viewer(user, pk: int):
    """The download of a finished job whoever may see the job."""
    job = job_for_viewer(user, pk)
    job_file = JobFile.objects.filter(job=job).first()
    if job_file is None:
        raise Http404("This job has no file.")
    return job_file
