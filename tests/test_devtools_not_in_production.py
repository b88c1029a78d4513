"""Production settings leave the tooling out; development and bench settings have it.

Each check runs in a fresh interpreter with the settings named, as a deployment (or
``make run``, or ``make bench``'s gunicorn) would start: what one settings module has
loaded must not hide what another leaves out.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

# Set up Django and import the root URLconf; with "walk", also every module of kcdir's
# own packages (the installed apps at the top of this repository, not those in a virtual
# environment inside it, and kcdir itself) but scripts'
# entry points (__main__); then say what is loaded.
PROBE = """
import importlib, json, pkgutil, sys
from pathlib import Path

import django

django.setup()
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands
from django.urls import Resolver404, resolve

base = Path(settings.BASE_DIR).resolve()
importlib.import_module(settings.ROOT_URLCONF)
packages = ["kcdir"] + [
    config.name for config in apps.get_app_configs() if Path(config.path).resolve().parent == base
]
if sys.argv[1:] != ["walk"]:
    packages = []
imported = []
for name in packages:
    package = importlib.import_module(name)
    imported.append(name)
    for module in pkgutil.walk_packages(package.__path__, prefix=name + "."):
        if module.name.endswith(".__main__"):
            continue
        importlib.import_module(module.name)
        imported.append(module.name)
try:
    resolve("/bench/hello/")
    hello = True
except Resolver404:
    hello = False
print(json.dumps({
    "installed": "devtools" in settings.INSTALLED_APPS,
    "loaded": sorted(m for m in sys.modules if m == "devtools" or m.startswith("devtools.")),
    "imported": imported,
    "hello": hello,
    "commands": sorted(get_commands()),
}))
"""


def environment(settings_module: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "SECRET_KEY": "kcdir-tests-only-not-a-secret",
        "DEBUG": "0",
    }


def probe(settings_module: str, *, walk: bool = False) -> dict:
    completed = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", PROBE, *(["walk"] if walk else [])],
        cwd=BASE_DIR,
        env=environment(settings_module),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(completed.stdout.splitlines()[-1])


def listed_commands(settings_module: str) -> set[str]:
    """The commands ``manage.py help`` lists (indented names under each app)."""
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "help"],
        cwd=BASE_DIR,
        env=environment(settings_module),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(re.findall(r"^\s+(\w+)$", completed.stdout, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def production():
    return probe("kcdir.settings", walk=True)


def test_production_settings_do_not_install_devtools(production):
    assert not production["installed"]


def test_no_production_module_imports_devtools(production):
    # Every product module was imported, and none of them pulled devtools in.
    assert {"kcdir.urls", "communities.views", "communities.people_views"} <= set(
        production["imported"]
    )
    assert not any(name.startswith("devtools") for name in production["imported"])
    assert production["loaded"] == []


def test_production_does_not_serve_the_bench_hello(production):
    assert not production["hello"]


def test_production_manage_py_has_no_seed_demo_or_bench(production):
    commands = listed_commands("kcdir.settings")

    assert "migrate" in commands and "export_roster" in commands
    assert not {"seed_demo", "bench"} & commands
    assert not {"seed_demo", "bench"} & set(production["commands"])


def test_development_settings_install_devtools_and_its_commands():
    development = probe("devtools.settings")

    assert development["installed"]
    assert {"seed_demo", "bench"} <= listed_commands("devtools.settings")


def test_bench_settings_serve_the_hello_behind_the_production_middleware():
    bench = probe("devtools.bench_settings")

    assert bench["installed"] and bench["hello"]


def test_no_page_sends_people_to_the_development_tooling():
    templates = sorted((BASE_DIR / "templates").rglob("*.html"))
    mentions = [
        template.relative_to(BASE_DIR)
        for template in templates
        if re.search(r"make run|seed_demo|demo data", template.read_text(), re.IGNORECASE)
    ]

    assert templates and mentions == []
