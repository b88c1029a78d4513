"""Which character separates the columns of an uploaded CSV.

Spreadsheets write ``,`` where the decimal mark is a point and ``;`` where it is a comma
(Excel in French, German, Dutch, Spanish … locales); some exports use tabs. Every reader
of uploaded CSV in kcdir (roster imports, the HR people sync) asks ``detect_separator``
and reads the whole file with the answer, so a quoted cell may hold any separator.

The header row decides, not a guess over the data (``csv.Sniffer`` is easily misled by
notes full of commas): the separator is the one with which the header names the most
columns the reader knows. A header that names as many known columns with two different
separators (``email;role,note``) is refused rather than guessed.
"""

import csv
import io
from collections.abc import Callable, Iterable

from django.utils.translation import gettext_lazy as _

SEPARATORS = (",", ";", "\t")
SEPARATOR_NAMES = {",": "“,”", ";": "“;”", "\t": _("tabs")}
# Blank rows read before giving up on finding the header (spreadsheets leave a few).
_BLANK_ROWS_SKIPPED = 100


class AmbiguousSeparator(ValueError):
    """The header reads as known columns with more than one separator."""

    def __init__(self, separators: list[str]):
        self.separators = separators
        super().__init__(separators)

    def names(self) -> str:
        """The separators as a person reads them: “,” and “;”."""
        return str(_(" and ")).join(str(SEPARATOR_NAMES[each]) for each in self.separators)


def plain_column_name(heading: str) -> str:
    """``" Email "`` means ``email``."""
    return heading.strip().lower()


def detect_separator(
    text: str,
    known_columns: Iterable[str],
    *,
    normalize: Callable[[str], str] = plain_column_name,
) -> str:
    """The separator (``,``, ``;`` or tab) with which the first non-blank row of ``text``
    names the most of ``known_columns`` (compared after ``normalize``).

    ``,`` when the header names none of them with any separator (the caller's own
    check then says which columns it expects), or when it has a single column. Raises
    ``AmbiguousSeparator`` when two separators read the header as different columns
    that name as many known ones.
    """
    known = set(known_columns)
    readings = {separator: _header(text, separator) for separator in SEPARATORS}
    scores = {
        separator: len({normalize(cell) for cell in header} & known)
        for separator, header in readings.items()
    }
    best = max(scores.values())
    if best == 0:
        return ","
    winners = [separator for separator in SEPARATORS if scores[separator] == best]
    if len({tuple(readings[separator]) for separator in winners}) > 1:
        raise AmbiguousSeparator(winners)
    return winners[0]


def _header(text: str, separator: str) -> list[str]:
    """The first row with a non-blank cell, read with ``separator``; [] if none."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=separator)
    try:
        for _index, row in zip(range(_BLANK_ROWS_SKIPPED), reader, strict=False):
            if any(cell.strip() for cell in row):
                return row
    except csv.Error:
        pass
    return []
