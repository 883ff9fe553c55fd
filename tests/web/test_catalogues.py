"""Every text of every page has its Malay translation (SPEC §9: English and Malay)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from clientbook.web import i18n

ROOT = Path(__file__).resolve().parents[2]
_PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w*\}")
METHODS = [
    ("src/clientbook/web/**.py", "python"),
    ("src/clientbook/web/templates/**.html", "jinja2"),
]
OPTIONS = {"src/clientbook/web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {
    "_": None, "gettext": None, "ngettext": (1, 2), "N_": None,
    "pgettext": ((1, "c"), 2), "npgettext": ((1, "c"), 2, 3),
}  # fmt: skip


def ui_texts() -> dict[str, str]:
    """msgid → where it is used, for every marked text of the web UI; a text with a context
    is keyed as `i18n.messages` keys it (`i18n.context_key`)."""
    found: dict[str, str] = {}
    for filename, _line, message, _comments, context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, options_map=OPTIONS
    ):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                found.setdefault(i18n.context_key(context, text) if context else text, filename)
    return found


def test_texts_with_a_context_are_found() -> None:
    assert i18n.context_key("api key", "State") in ui_texts()


def test_the_ui_has_texts_to_translate() -> None:
    assert len(ui_texts()) > 20


def test_every_text_has_a_malay_translation() -> None:
    malay = i18n.messages("ms")
    missing = {text: where for text, where in ui_texts().items() if text not in malay}
    assert not missing, f"add these to a ms .po file: {missing}"


def test_translations_keep_their_placeholders() -> None:
    for text, translated in i18n.messages("ms").items():
        assert sorted(_PLACEHOLDER.findall(text)) == sorted(_PLACEHOLDER.findall(translated)), text
