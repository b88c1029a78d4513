"""Community cards (directory, purpose pages), each drawn once for what it shows.

A card's cache key is made of everything the card displays (name, kind, status, stage,
summary, purposes, member count, stewards, language), so a stored card is right for as
long as that data is: no invalidation needed. When anything in the directory changes,
the page around the cards is drawn again (``directory_cache``), but only the cards whose
own data changed are rendered again.
"""

from django.conf import settings
from django.core.cache import caches
from django.template.loader import render_to_string

from .directory_cache import cache_key

CARD_TEMPLATE = "includes/_community_card.html"


def card_key(community) -> str:
    shown = (
        community.pk,
        community.slug,
        community.name,
        community.kind,
        community.status,
        community.stage,
        community.summary,
        tuple((purpose.slug, purpose.statement) for purpose in community.purposes.all()),
        community.active_member_count,
        tuple(str(steward) for steward in community.stewards),
    )
    return cache_key("card", shown)


def with_cards(communities: list) -> list:
    """Set ``card`` (its HTML) on each community: from the cache, or drawn and stored.
    The communities need their purposes, leaders and ``active_member_count`` loaded."""
    keys = {community.pk: card_key(community) for community in communities}
    cards = caches["cards"]
    found = cards.get_many(list(keys.values())) if settings.DIRECTORY_CACHE_SECONDS else {}
    drawn = {}
    for community in communities:
        key = keys[community.pk]
        if key not in found:
            found[key] = drawn[key] = render_to_string(CARD_TEMPLATE, {"community": community})
        community.card = found[key]
    if drawn and settings.DIRECTORY_CACHE_SECONDS:
        cards.set_many(drawn, settings.DIRECTORY_CACHE_SECONDS)
    return communities
