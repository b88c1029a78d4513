"""Settings for `manage.py bench`'s gunicorn: production settings plus one extra URL.

Everything (middleware, database, static files) is kcdir's own; the development
settings add only this app (no models, no middleware), and the URLconf adds
``bench/hello/``, a constant response behind the same middleware.
"""

from devtools.settings import *  # noqa: F403

ROOT_URLCONF = "devtools.bench_urls"
