"""kcdir's URLs plus ``bench/hello/`` (for `manage.py bench` only, never deployed).

The hello view returns a constant string: measured through the production middleware
(which also asks for sign-in, like every other page), it shows what a request costs
before a page does any work of its own.
"""

from django.urls import path

from kcdir.urls import handler403  # noqa: F401 (the root URLconf names the 403 page)
from kcdir.urls import urlpatterns as app_urlpatterns

from .views import hello

urlpatterns = [path("bench/hello/", hello, name="bench_hello"), *app_urlpatterns]
