"""Communities like a new one, by name and summary: a read the record-a-CoP and merge
pages show before a write, so that duplicates are caught. No service depends on it."""

import difflib
import re

from django.db.models import Q

from ..models import Community

STOP_WORDS = {
    "the",
    "and",
    "for",
    "our",
    "with",
    "from",
    "that",
    "this",
    "who",
    "all",
    "new",
    "how",
    "community",
    "communities",
    "practice",
    "group",
    "team",
    "club",
    "network",
}


def _significant_words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) >= 3} - STOP_WORDS


def similar_communities(
    name: str, summary: str = "", *, limit: int = 5, exclude_pk=None
) -> list[Community]:
    """Listed communities most like this name and summary, best first: shared words in
    the name count most, then in the summary, then how alike the names read."""
    name_words = _significant_words(name)
    words = name_words | _significant_words(summary)
    if not words:
        return []
    query = Q()
    for word in sorted(words)[:12]:
        query |= Q(name__icontains=word) | Q(summary__icontains=word)
    candidates = Community.objects.listed().filter(query).exclude(pk=exclude_pk)[:100]

    def score(candidate):
        shared_name = len(name_words & _significant_words(candidate.name))
        shared_any = len(words & _significant_words(f"{candidate.name} {candidate.summary}"))
        alike = difflib.SequenceMatcher(None, name.lower(), candidate.name.lower()).ratio()
        return (shared_name, shared_any, alike)

    return sorted(candidates, key=score, reverse=True)[:limit]
