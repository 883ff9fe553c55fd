"""Page languages (SPEC §9): English and Malay, from Babel message catalogues.

The catalogues are the `.po` files under `translations/<lang>/LC_MESSAGES/`, one per area of
the UI, merged per language on first use (compiled in memory: nothing binary is committed).
English is the source language: its text is the msgid, so an English page needs no lookup.
An English word that names two things ("State": an address's, an API key's Active/Revoked) is
marked with a context, `pgettext("api key", "State")`, and has a `msgctxt` entry of its own.

The language of a page is the signed-in customer's `language` attribute, else the best match of
the browser's `Accept-Language`, else English. It is held in a context variable for the length
of one render, so the Jinja environment (shared by every request) translates per request.

Field errors come from the service layer in English, with their numbers inside ("must be at
most 255 characters"). `translate_message` looks them up with each number replaced by `{n}`,
so one catalogue entry covers every size.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from clientbook.domain.enums import LANGUAGES

DEFAULT_LANGUAGE = "en"
TRANSLATIONS = Path(__file__).parent / "translations"
_language: ContextVar[str] = ContextVar("clientbook_page_language", default=DEFAULT_LANGUAGE)
_NUMBER = re.compile(r"\d+")
# How a message with a context is keyed in `messages` (gettext's own separator, in no text).
CONTEXT_SEPARATOR = "\x04"


def context_key(context: str, message: str) -> str:
    return f"{context}{CONTEXT_SEPARATOR}{message}"


def catalogue_files(language: str) -> list[Path]:
    return sorted((TRANSLATIONS / language / "LC_MESSAGES").glob("*.po"))


@cache
def messages(language: str) -> dict[str, str]:
    """msgid → translated text for `language`, every area's catalogue merged (on the first
    page in that language: Babel is imported then, not at the server's start). A message with
    a `msgctxt` is keyed `context_key(msgctxt, msgid)`."""
    from babel.messages.pofile import read_po

    table: dict[str, str] = {}
    for path in catalogue_files(language):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        for message in catalog:
            if not message.id or not message.string or message.fuzzy:
                continue
            if isinstance(message.id, str):
                key = message.id
                if message.context:
                    key = context_key(message.context, key)
                table[key] = str(message.string)
            else:  # a plural entry: Malay has one form, used for the singular and the plural
                forms = list(message.string)
                for index, text in enumerate(message.id):
                    table[text] = forms[min(index, len(forms) - 1)]
    return table


def N_(message: str) -> str:  # the name gettext tools look for
    """Mark a text for translation where it is defined; `gettext` translates it where shown."""
    return message


def is_known(message: str) -> bool:
    """Is `message` one of the UI's own texts (every one is in the Malay catalogue)?"""
    return message in messages("ms")


def current_language() -> str:
    return _language.get()


def set_language(language: str) -> None:
    _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def gettext(message: str) -> str:
    language = _language.get()
    if language == DEFAULT_LANGUAGE:
        return message
    return messages(language).get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


def pgettext(context: str, message: str) -> str:
    """`message` as meant in `context` (its own catalogue entry, never the context-free one)."""
    language = _language.get()
    if language == DEFAULT_LANGUAGE:
        return message
    return messages(language).get(context_key(context, message), message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return pgettext(context, singular if n == 1 else plural)


def translate_message(message: str) -> str:
    """A service-layer message in the page's language, numbers kept ("at most {n} characters").

    Looked up with each number as `{n}`; failing that, against the catalogue's shapes: a msgid
    with a named placeholder, e.g. "must be one of: {values}", matches any text in its place,
    which is kept as it is in the translation. Several problems joined with "; " (a tag list's)
    are translated one by one. Anything else stays English.
    """
    language = _language.get()
    if language == DEFAULT_LANGUAGE:
        return message
    table = messages(language)
    found = _with_numbers(table, message)
    if found is not None:
        return found
    for shape in _shapes(language):
        match = shape.pattern.fullmatch(message)
        if match is not None:
            return shape.fill(match.groups())
    if "; " in message:
        return "; ".join(translate_message(part) for part in message.split("; "))
    return message


def _with_numbers(table: dict[str, str], message: str) -> str | None:
    numbers = _NUMBER.findall(message)
    translated = table.get(_NUMBER.sub("{n}", message))
    if translated is None:
        return None
    for number in numbers:
        translated = translated.replace("{n}", number, 1)
    return translated


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class _Shape:
    """A catalogue message with named placeholders, as a pattern over service messages."""

    pattern: re.Pattern[str]
    names: tuple[str, ...]
    translation: str

    def fill(self, values: tuple[str, ...]) -> str:
        named = {name: value for name, value in zip(self.names, values, strict=True)}
        numbers = iter(value for name, value in zip(self.names, values, strict=True) if name == "n")

        def replace(found: re.Match[str]) -> str:
            name = found.group(1)
            if name == "n":
                return next(numbers, found.group(0))
            return named.get(name, found.group(0))

        return _PLACEHOLDER.sub(replace, self.translation)


@cache
def _shapes(language: str) -> list[_Shape]:
    """The catalogue's messages with a placeholder other than `{n}`, most specific first."""
    shapes: list[tuple[int, _Shape]] = []
    for msgid, translated in messages(language).items():
        names = tuple(_PLACEHOLDER.findall(msgid))
        if not names or set(names) == {"n"}:
            continue
        parts, position = [], 0
        for found in _PLACEHOLDER.finditer(msgid):
            parts.append(re.escape(msgid[position : found.start()]))
            parts.append(r"(\d+)" if found.group(1) == "n" else r"(.+?)")
            position = found.end()
        parts.append(re.escape(msgid[position:]))
        literal = len(_PLACEHOLDER.sub("", msgid))
        shapes.append((literal, _Shape(re.compile("".join(parts), re.DOTALL), names, translated)))
    return [shape for _, shape in sorted(shapes, key=lambda item: -item[0])]


def negotiate(preferred: str | None, accept_language: str | None) -> str:
    """The page language: the user's own choice, else the browser's best supported one."""
    if preferred in LANGUAGES:
        return preferred
    from babel import Locale, UnknownLocaleError  # imported once, on the first page

    for tag in _accepted(accept_language or ""):
        try:
            language = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE


def _accepted(header: str) -> list[str]:
    """Language tags of an Accept-Language header, most wanted first (q=0 dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]
