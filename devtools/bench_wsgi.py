"""The benchmark's middleware-free "hello": Django with ``MIDDLEWARE = []``.

``gunicorn devtools.bench_wsgi`` (started by `manage.py bench`); the same URLconf and
view as the signed-in hello, so the difference between the two is the middleware.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "devtools.bench_bare_settings"

application = get_wsgi_application()
