from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import access
from .jobs import read_file
from .models import JobFile


@require_safe
def job_detail(request, pk):
    """A long action's progress; refreshes itself (no JavaScript) until it is over."""
    job = access.job_for_viewer(request.user, pk)
    job_file = JobFile.objects.defer("data").filter(job=job).first()
    return render(request, "background/job_detail.html", {"job": job, "job_file": job_file})


@require_safe
def job_file(request, pk):
    """What a job produced (an export), as a download."""
    stored = access.job_file_for_viewer(request.user, pk)
    response = StreamingHttpResponse(read_file(stored), content_type=stored.content_type)
    response["Content-Disposition"] = f'attachment; filename="{stored.name}"'
    response["Content-Length"] = str(stored.size)
    return response
