"""Text folding shared by the search index and the search query, so both see the same words."""

from __future__ import annotations

import re
import unicodedata

# A word is a maximal run of letters and digits; findall yields exactly the non-empty pieces a
# split on the non-word characters would.
_WORD = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def ascii_lower(text: str) -> str:
    """What SQLite's built-in `lower()` does: ASCII letters only."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


def words(text: str) -> list[str]:
    """The folded words of `text` (letters and digits; everything else separates)."""
    if text.isascii():
        # Same words, several times faster: ASCII has nothing to decompose or fold but case.
        return _ASCII_WORD.findall(text.lower())
    return unicode_words(text)


def unicode_words(text: str) -> list[str]:
    """`words` for any text: fold, then split on everything that is not a letter or digit."""
    return _WORD.findall(fold(text))
