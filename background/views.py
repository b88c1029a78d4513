from django.shortcuts import render
from django.views.decorators.http import require_safe

from . import access


@require_safe
def job_detail(request, pk):
    """A long action's progress; refreshes itself (no JavaScript) until it is over."""
    job = access.job_for_viewer(request.user, pk)
    return render(request, "background/job_detail.html", {"job": job})
