"""Text folding shared by the search index and the search query, so both see the same words, and
the case folding of email addresses (stored, looked up and filtered the same way)."""

from __future__ import annotations

import re
import unicodedata

# A word is a maximal run of letters and digits; findall yields exactly the non-empty pieces a
# split on the non-word characters would.
_WORD = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")


# `str.lower()` maps these two with more than Unicode's one-letter-to-one-letter mapping: "İ" to
# two characters, "Σ" to "ς" at a word's end. Mapped first, they get the simple mapping.
_SIMPLE_LOWER = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})


def lower_letters(text: str) -> str:
    """Every letter lowercased on its own (Unicode's simple mapping): what PostgreSQL's
    `lower()` does under C.UTF-8, code point for code point. Never longer than `text`, and a
    prefix lowers to a prefix of the whole."""
    return text.lower() if text.isascii() else text.translate(_SIMPLE_LOWER).lower()


def email_folded(email: str | None) -> str | None:
    """An address as it is compared, unique and looked up (SPEC §3, §12: case-insensitively):
    trimmed, every letter lowercased. Stored as `emailFolded` on users and customers."""
    return None if email is None else lower_letters(email.strip())


# Letters Unicode does not decompose into a base letter and marks, folded as readers of them
# expect ("Đoàn" found by `doan`, "Bjørn" by `bjorn`, "Łukasz" by `lukasz`). Lowercase: `fold`
# casefolds first. Migration 0007 refolded the stored search words holding them.
UNDECOMPOSED = {
    "đ": "d", "ð": "d", "ø": "o", "ł": "l", "ħ": "h", "ŧ": "t", "æ": "ae", "œ": "oe", "þ": "th",
    "\u0131": "i",  # dotless i
}  # fmt: skip
_UNDECOMPOSED = str.maketrans(UNDECOMPOSED)


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded, and the
    letters that do not decompose mapped to theirs (`UNDECOMPOSED`)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold().translate(_UNDECOMPOSED)


def words(text: str) -> list[str]:
    """The folded words of `text` (letters and digits; everything else separates)."""
    if text.isascii():
        # Same words, several times faster: ASCII has nothing to decompose or fold but case.
        return _ASCII_WORD.findall(text.lower())
    return unicode_words(text)


def unicode_words(text: str) -> list[str]:
    """`words` for any text: fold, then split on everything that is not a letter or digit."""
    return _WORD.findall(fold(text))
