"""The benchmark's middleware-free "hello": Django with ``MIDDLEWARE = []``.

``gunicorn kcdir.bench_wsgi`` (started by `manage.py bench`); the same URLconf and
view as the signed-in hello, so the difference between the two is the middleware.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "kcdir.bench_bare_settings"

application = get_wsgi_application()
