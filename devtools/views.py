from django.http import HttpResponse


def hello(request):
    """A constant response: measured through the production middleware, it shows what
    a request costs before a page does any work of its own."""
    return HttpResponse("hello\n", content_type="text/plain")
