"""Settings for the benchmark's middleware-free "hello": no middleware at all."""

from devtools.bench_settings import *  # noqa: F403

MIDDLEWARE = []
