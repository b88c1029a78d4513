"""Project-wide middleware."""

from django.utils.cache import patch_cache_control


class PrivatePagesMiddleware:
    """``Cache-Control: private, no-store`` on everything answered to a signed-in person
    (pages, CSV exports, redirects): no shared proxy or back-button cache keeps a roster
    for the next person at that browser or behind that proxy. Static files are answered
    before this (WhiteNoise) and stay cacheable."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
