"""Text folding shared by the search index and the search query, so both see the same words."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_ASCII_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def words(text: str) -> list[str]:
    """The folded words of `text` (letters and digits; everything else separates)."""
    if text.isascii():
        # Same words, several times faster: ASCII has nothing to decompose or fold but case.
        return [w for w in _ASCII_NON_WORD.split(text.lower()) if w]
    return unicode_words(text)


def unicode_words(text: str) -> list[str]:
    """`words` for any text: fold, then split on everything that is not a letter or digit."""
    return [w for w in _NON_WORD.split(fold(text).replace("_", " ")) if w]
