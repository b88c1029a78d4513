"""Settings for `manage.py bench`'s gunicorn: production settings plus one extra URL.

Everything (middleware, database, static files) is kcdir's own; only the URLconf
adds ``bench/hello/``, a constant response behind the same middleware.
"""

from kcdir.settings import *  # noqa: F403

ROOT_URLCONF = "kcdir.bench_urls"
