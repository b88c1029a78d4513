"""Settings for development and the tests: production's settings plus the tooling.

``make run``, ``make test`` and ``make bench`` use them; ``manage.py`` and every
deployment keep ``kcdir.settings``, which does not install this app.
"""

import os

from kcdir.settings import *  # noqa: F403
from kcdir.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]

# The demo accounts' password (seed_demo); never used outside demo data.
KCDIR_DEMO_PASSWORD = os.environ.get("KCDIR_DEMO_PASSWORD", "kcdir-demo")
