"""The conversation's language: English, Latvian or Russian, with one gettext catalog each.

One mechanism for every customer-facing text. English is the source and the
message id (gettext's convention): :mod:`dialogs.messages` holds the
sentences and card labels the code says (the handoff's to the customer are in
:class:`dialogs.handoff.phrases.ToCustomer`, the live checks' in
:mod:`dialogs.live.phrases`), ``knowledge.json`` the troubleshooting text
(its customer-facing fields, :mod:`dialogs.i18n.knowledge`).
``catalogs/lv.po`` and ``catalogs/ru.po`` translate both.

Why gettext PO files rather than JSON or per-language fields in the knowledge:

- Translators and their tools (Poedit, Weblate, Crowdin) read and write PO;
  each entry says where the text is used (``#:``), and notes for the
  translator (``#.``) say what must stay as it is (PowerShell, Microsoft's
  portal labels).
- The English text is the key, so an edited English sentence has no
  translation until someone translates it again: the catalog test fails
  instead of a customer reading a stale translation. ``make i18n`` marks such
  entries fuzzy with the old translation as a starting point.
- The knowledge stays one data file that the flow, the diagnosis and the search
  read in English; the catalogs only translate what a customer reads, and the
  other parts of the knowledge (ids, patterns, PowerShell, URLs) cannot drift
  between languages because they exist once.

Catalogs are read once per process (Babel's PO reader) into plain dicts, so a
lookup is one dict access; nothing is loaded at import time.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

LANGUAGES: Final = ("en", "lv", "ru")
"""The languages the bot speaks, English first (the source of every text)."""
SOURCE_LANG: Final = "en"
LANGUAGE_NAMES: Final = MappingProxyType({"en": "English", "lv": "Latviešu", "ru": "Русский"})
"""Each language named in itself, for the language buttons."""
LANGUAGE_NAMES_EN: Final = MappingProxyType({"en": "English", "lv": "Latvian", "ru": "Russian"})
"""Each language named in English, for agents and staff."""
CATALOG_DIR: Final = Path(__file__).with_name("catalogs")


def language(value: object) -> str:
    """Return ``value`` when it is a language the bot speaks, else English.

    A snapshot is data from storage: anything unexpected there renders in
    English rather than failing the turn.
    """
    return value if isinstance(value, str) and value in LANGUAGES else SOURCE_LANG


class Translator:
    """Translates English source texts into one language.

    Call it with an English text (a :mod:`dialogs.messages` constant, a
    knowledge text): the translation comes back, or the text itself when the
    catalog has none (English, and text that is not the bot's own, such as
    an address). :meth:`format` fills ``{name}`` placeholders after translating.
    """

    __slots__ = ("_table", "lang")

    def __init__(self, lang: str, table: Mapping[str, str]) -> None:
        """Wrap a catalog (English -> translation) for ``lang``."""
        self.lang = lang
        self._table = table

    def __call__(self, source: str) -> str:
        """Return the translation of ``source`` (``source`` itself if there is none)."""
        return self._table.get(source, source)

    def format(self, source: str, **values: object) -> str:
        """Translate ``source``, then fill its ``{name}`` placeholders with ``values``."""
        return self(source).format(**values)

    def knows(self, source: str) -> bool:
        """True when the catalog translates ``source`` (always True for English)."""
        return self.lang == SOURCE_LANG or source in self._table


@functools.cache
def translator(lang: str) -> Translator:
    """Return the translator for ``lang`` (read from its catalog on the first call).

    Args:
        lang: One of :data:`LANGUAGES`; anything else gets English.

    Returns:
        The translator; English's returns every text as it is.
    """
    lang = language(lang)
    if lang == SOURCE_LANG:
        return Translator(lang, MappingProxyType({}))
    return Translator(lang, MappingProxyType(read_catalog(catalog_path(lang))))


def catalog_path(lang: str) -> Path:
    """Where the PO catalog of ``lang`` lives."""
    return CATALOG_DIR / f"{lang}.po"


def read_catalog(path: Path) -> dict[str, str]:
    """Read a PO file into English -> translation, leaving out fuzzy and empty entries.

    Args:
        path: A PO file.

    Returns:
        The translations ready to use.
    """
    from babel.messages.pofile import read_po  # type: ignore[import-untyped]

    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {str(message.id): str(message.string) for message in catalog
            if message.id and isinstance(message.id, str) and message.string
            and not message.fuzzy}
