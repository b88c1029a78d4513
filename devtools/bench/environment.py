"""What the benchmark runs on and in: the header line, the collected static files
production serves, and the test client's host."""

import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from communities.models import Community, Membership, Purpose
from members.models import Member

from .report import Report, load_average


def header(report: Report) -> None:
    database = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        engine = f"PostgreSQL {version.split()[0]}"
    else:
        engine = f"{connection.display_name} {connection.Database.sqlite_version}"
    report.write(
        f"kcdir benchmark: {engine} ({Path(str(database)).name}), "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, DEBUG={settings.DEBUG}"
    )
    report.write(
        f"Data: {Community.objects.count():,} communities, {Member.objects.count():,} "
        f"people, {Purpose.objects.count():,} purposes, "
        f"{Membership.objects.count():,} memberships"
    )
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[1]
    report.write(
        f"Cache: {cache}; sessions: {settings.SESSION_ENGINE.rsplit('.', 1)[1]}"
        + ("" if settings.SHARED_CACHE else " (set REDIS_URL for production's shared cache)")
    )
    report.write(f"Load average at the start: {load_average()} (1, 5, 15 min)")


@contextmanager
def static_files(report: Report, *, for_gunicorn: bool):
    """Production serves collected, hashed static files (WhiteNoise's manifest): pages
    cannot render without them, so collect them into a temporary folder, for this
    process and for gunicorn. (Tests use plain storage and need none.)"""
    manifest = "Manifest" in settings.STORAGES["staticfiles"]["BACKEND"]
    if not (manifest or for_gunicorn):
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="kcdir-bench-static-"))
    try:
        started = time.perf_counter()
        # Hashed names and the manifest, as in production, without WhiteNoise's
        # compression (a minute on this machine; no page in the bench loads a file).
        storages = {
            **settings.STORAGES,
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
            },
        }
        with override_settings(STORAGES=storages, STATIC_ROOT=root):
            call_command("collectstatic", interactive=False, verbosity=0)
        with override_settings(STATIC_ROOT=root):
            report.write(f"Static files collected in {time.perf_counter() - started:.1f} s")
            yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def test_hosts():
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        yield
