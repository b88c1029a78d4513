"""Reading a page the way a test needs it: as markup, as text, or one part of it.

Every helper takes a response (a streamed one is read to the end) or a string of HTML.
"""

import html
import re
from urllib.parse import parse_qs, urlsplit

from django.http import HttpResponseBase
from django.urls import reverse

TAG = re.compile(r"<[^>]+>")
WHITE_SPACE = re.compile(r"\s+")


def page_html(page: HttpResponseBase | str) -> str:
    """The markup, as the server sent it."""
    if isinstance(page, str):
        return page
    if page.streaming:
        return b"".join(page.streaming_content).decode()
    return page.content.decode()


def page_text(page: HttpResponseBase | str) -> str:
    """The markup with its entities unescaped and every run of white space made one
    space: for looking at words and attributes together."""
    return WHITE_SPACE.sub(" ", html.unescape(page_html(page)))


def visible_text(page: HttpResponseBase | str) -> str:
    """Roughly what a reader sees: every tag a space, entities unescaped, white space
    collapsed and trimmed."""
    return WHITE_SPACE.sub(" ", html.unescape(TAG.sub(" ", page_html(page)))).strip()


def inline_text(fragment: str) -> str:
    """The text of an inline fragment (a table cell, a button, a message): tags dropped
    without a gap, entities unescaped, white space collapsed and trimmed."""
    return WHITE_SPACE.sub(" ", html.unescape(TAG.sub("", fragment))).strip()


def section_html(page: HttpResponseBase | str, heading_id: str) -> str:
    """The inside of the ``<section>`` labelled by the heading ``heading_id``."""
    match = re.search(
        rf'<section [^>]*aria-labelledby="{heading_id}"[^>]*>(.*?)</section>',
        page_html(page),
        re.S,
    )
    assert match, f"the page has no section labelled {heading_id!r}"
    return match.group(1)


def section_text(page: HttpResponseBase | str, heading_id: str) -> str:
    """The ``<section>`` labelled by the heading ``heading_id``, as visible text."""
    return visible_text(section_html(page, heading_id))


def alerts(page: HttpResponseBase | str) -> list[str]:
    """The flash messages shown on the page, as text."""
    return [
        inline_text(message)
        for message in re.findall(
            r'<div class="alert alert-[\w-]+">(.*?)</div>', page_html(page), re.S
        )
    ]


def unmasked(page: str) -> str:
    """The page without its CSRF tokens, which are masked afresh for every response."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", page)


def assert_sent_to_sign_in(response, path: str) -> None:
    """The response redirects to the sign-in page, which will come back to ``path``."""
    assert response.status_code == 302
    target = urlsplit(response.url)
    assert target.path == reverse("login")
    assert parse_qs(target.query)["next"] == [path]
