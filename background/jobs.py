"""Long actions as jobs: queued in the caller's transaction, run by the worker after it
commits, their progress and outcome kept on a ``Job`` row for their page
(``background:job_detail``, which refreshes itself until the job is over).

A job's function takes the ``Job`` first, then its JSON arguments, and returns the
sentence its page shows when it is done. It raises ``JobRefused`` with a sentence for
people when its action was refused; any other exception fails the job with a general
message (the exception is logged).
"""

import gzip
import io
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .models import Job, JobFile

logger = logging.getLogger(__name__)

RUN_JOB = "background.tasks.run_job"


class JobRefused(Exception):
    """The job's action was refused; the message says why, for its page."""


def start_job(*, label: str, func: str, args: list, user, return_url: str, total: int) -> Job:
    """Record a job and run it after the current transaction commits."""
    job = Job.objects.create(
        label=label, func=func, args=args, started_by=user, return_url=return_url, total=total
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    if settings.KCDIR_TASKS == "inline":
        run_job(job_id)
        return
    from django_q.tasks import async_task

    async_task(RUN_JOB, job_id, task_name=f"job {job_id}")


def report_progress(job: Job, done: int) -> None:
    """Record how far a job is (seen by its page once the caller's transaction, if any,
    commits)."""
    Job.objects.filter(pk=job.pk).update(done=done)


def attach_file(job: Job, *, name: str, content_type: str, chunks) -> int:
    """Store the bytes of ``chunks`` (an iterable) compressed, as the job's download;
    returns their size."""
    buffer = io.BytesIO()
    size = 0
    with gzip.GzipFile(fileobj=buffer, mode="wb") as compressed:
        for chunk in chunks:
            compressed.write(chunk)
            size += len(chunk)
    JobFile.objects.update_or_create(
        job=job,
        defaults={
            "name": name,
            "content_type": content_type,
            "size": size,
            "data": buffer.getvalue(),
        },
    )
    return size


def read_file(job_file: JobFile, *, chunk_bytes: int = 256 * 1024):
    """The stored file's bytes, decompressed a piece at a time."""
    with gzip.GzipFile(fileobj=io.BytesIO(job_file.data), mode="rb") as compressed:
        while chunk := compressed.read(chunk_bytes):
            yield chunk


def run_job(job_id: int) -> None:
    """Run a queued job once (a job handed out again after a worker died is failed, not
    run twice: its action may have been half done and rolled back, or done)."""
    claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING, started_at=timezone.now()
    )
    job = Job.objects.get(pk=job_id)
    if not claimed:
        if job.state == Job.State.RUNNING:
            _finish(job, error=str(INTERRUPTED))
        return
    try:
        result = import_string(job.func)(job, *job.args)
    except JobRefused as refusal:
        _finish(job, error=str(refusal))
        return
    except Exception:
        logger.exception("Job %s (%s) failed", job.pk, job.label)
        _finish(job, error=str(FAILED))
        return
    _finish(job, result=result or "")


FAILED = _(
    "Something went wrong and this did not finish; it was logged for the administrators. "
    "Look at the result, then try again later."
)
INTERRUPTED = _(
    "The worker stopped while running this. What it did in its last step was undone; "
    "look at the result, then start it again if needed."
)


def _finish(job: Job, *, result: str = "", error: str = "") -> None:
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.FAILED if error else Job.State.DONE,
        done=job.done if error else job.total,
        result=result,
        error=error,
        finished_at=timezone.now(),
    )
