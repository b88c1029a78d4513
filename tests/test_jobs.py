"""Long actions as jobs: a roster import of more than KCDIR_BACKGROUND_IMPORT_ROWS rows, or
more than KCDIR_BACKGROUND_ADD_PEOPLE people added at once, is done by the worker, and the
steward follows it on a page that refreshes itself.
Here the job runs in this process after the commit (KCDIR_TASKS=inline);
tests/worker/ has the real worker apply one."""

import re

import pytest
from django.urls import reverse

from background.models import Job
from communities import services, tasks
from communities.csv_io import exports
from communities.models import Membership, RosterImport

from .factories import member_named
from .pages import visible_text


@pytest.fixture
def big_import(open_kc, steward, settings) -> RosterImport:
    settings.KCDIR_BACKGROUND_IMPORT_ROWS = 1  # two rows are "big", for the test
    member_named("Priya Patel", username="priya")
    member_named("Omar Odu", username="omar")
    return services.preview_roster_import(
        community=open_kc,
        actor=steward.member,
        file_name="people.csv",
        text="username,role\npriya,member\nomar,steward\n",
        remove_absent=False,
    )


def confirm(client, pending: RosterImport):
    url = reverse("communities:roster_import_preview", args=[pending.community.slug, pending.pk])
    return client.post(url, {"mode": pending.mode})


def test_a_big_import_runs_as_a_job_whose_page_shows_it_waiting_then_done(
    client, steward, open_kc, big_import, django_capture_on_commit_callbacks
):
    client.force_login(steward)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = confirm(client, big_import)

    job = Job.objects.get()
    assert response.status_code == 302 and response.url == job.get_absolute_url()
    assert not Membership.objects.filter(member__user__username="priya").exists()
    waiting = client.get(job.get_absolute_url())
    assert "Waiting for the worker" in visible_text(waiting)
    assert "Roster import of people.csv into Claims Turnaround" in visible_text(waiting)
    assert '<meta http-equiv="refresh" content="2">' in waiting.content.decode()

    for callback in queued:  # the commit's callbacks: the worker's code, here
        callback()

    job.refresh_from_db()
    assert job.state == Job.State.DONE
    done = client.get(job.get_absolute_url())
    text = visible_text(done)
    assert "Import applied: 2 added, 0 roles changed, 0 removed." in text
    assert 'http-equiv="refresh"' not in done.content.decode()
    assert f'href="{job.return_url}"' in done.content.decode()
    assert set(
        open_kc.memberships.filter(state=Membership.State.ACTIVE).values_list(
            "member__user__username", "role"
        )
    ) >= {("priya", "member"), ("omar", "steward")}


def test_a_refused_big_import_fails_its_job_with_the_reason_and_changes_nothing(
    client, steward, open_kc, big_import, django_capture_on_commit_callbacks
):
    client.force_login(steward)
    url = reverse("communities:roster_import_preview", args=[open_kc.slug, big_import.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"mode": RosterImport.Mode.VALID_ROWS})  # not what it shows

    job = Job.objects.get()
    assert job.state == Job.State.FAILED
    text = visible_text(client.get(response.url))
    assert "changed since this page was shown, so nothing was applied" in text
    assert not Membership.objects.filter(member__user__username="priya").exists()


def test_a_job_page_is_only_for_whoever_started_it(client, big_import, steward, staff):
    client.force_login(steward)
    confirm(client, big_import)
    job = Job.objects.get()

    client.force_login(staff)
    assert client.get(job.get_absolute_url()).status_code == 404


def test_a_small_import_is_still_applied_on_the_page(
    client, steward, open_kc, big_import, settings
):
    settings.KCDIR_BACKGROUND_IMPORT_ROWS = 10_000
    client.force_login(steward)

    response = confirm(client, big_import)

    assert response.status_code == 302
    assert not Job.objects.exists()
    assert Membership.objects.filter(member__user__username="priya").exists()


def test_adding_a_long_list_runs_as_a_job_in_chunks_whose_progress_the_page_shows(
    client, steward, open_kc, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.KCDIR_BACKGROUND_ADD_PEOPLE = 4
    monkeypatch.setattr(tasks, "ADD_CHUNK", 2)
    people = [member_named(f"Person {n}", username=f"person{n}") for n in range(5)]
    seen = []
    real_report = tasks.report_progress

    def report(job, done):
        real_report(job, done)
        seen.append(visible_text(client.get(job.get_absolute_url())))

    monkeypatch.setattr(tasks, "report_progress", report)
    client.force_login(steward)
    pasted = " ".join(person.user.username for person in people) + " nobody-at-all"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("communities:members_add", args=[open_kc.slug]),
            {"pasted": pasted, "mode": "add"},
        )

    job = Job.objects.get()
    assert response.url == job.get_absolute_url()
    assert job.label == "Adding 5 people to Claims Turnaround"
    assert [re.search(r"\d+ of \d+ done", text)[0] for text in seen] == [
        "2 of 5 done",
        "4 of 5 done",
        "5 of 5 done",
    ]
    text = visible_text(client.get(job.get_absolute_url()))
    assert "Added: 5. Already on the list: 0. Matched no one: 1 (nobody-at-all)." in text
    assert open_kc.memberships.filter(member__in=people, state=Membership.State.ACTIVE).count() == 5


def test_every_membership_is_exported_by_the_worker_and_offered_on_the_job_page(
    client, directory_admin, open_kc, staff, django_capture_on_commit_callbacks
):
    client.force_login(directory_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("communities:memberships_export"))

    job = Job.objects.get()
    assert response.url == job.get_absolute_url()
    page = client.get(job.get_absolute_url())
    count = Membership.objects.count()
    assert f"{count} memberships exported." in visible_text(page)
    assert "Download kcdir-memberships.csv" in visible_text(page)
    download = client.get(reverse("background:job_file", args=[job.pk]))
    assert download["Content-Disposition"] == 'attachment; filename="kcdir-memberships.csv"'
    content = b"".join(download.streaming_content)
    assert content == b"".join(exports.export_memberships(states=None))
    assert content.decode("utf-8-sig").count("\r\n") == count + 1  # the header, then a row each

    client.force_login(staff)
    assert client.get(reverse("background:job_file", args=[job.pk])).status_code == 404
