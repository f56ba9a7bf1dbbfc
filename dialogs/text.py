"""The bot's one way to tidy and compare what people type.

* :func:`clean_text` — a message as typed: Teams may wrap it in a little HTML
  (links, paragraphs) and escape entities; this gives the words back.
* :func:`normalise` — words to compare with the phrase lists and card
  options: Unicode folded, apostrophes dropped, punctuation made spaces.
* :func:`said` — both: short typed words as the phrase lists spell them.
* :func:`plain_text` — someone's words to show to someone else: control and
  format characters (zero-width, bidi overrides) dropped, line breaks kept.

Two jobs stay where they are, because they are not this one: reading a pasted
error as one line (:func:`dialogs.diagnosis.normalise_error`, which also undoes
escapes and log prefixes) and the understanding layer's folding of diacritics
(:func:`dialogs.understanding.text.fold`, which its model is trained on). The
bot's mention is removed at the edge (``bot/handler.py``): only the activity
says which ``<at>`` is the bot.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Teams sometimes delivers typed text with a little HTML (links, paragraphs).
_HTML_TAG = re.compile(r"</?(?:a|p|div|span|at|br|strong|em|b|i)\b[^<>]*>", re.IGNORECASE)
# Apostrophes are dropped (not turned into spaces) so "don't" and "dont" match.
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`´]")
_NON_WORD = re.compile(r"[^\w]+|_")


def clean_text(raw: str) -> str:
    """Remove the bits of HTML Teams may wrap typed text in, and unescape entities."""
    return html.unescape(_HTML_TAG.sub("", raw or "")).replace("\u00a0", " ").strip()


def normalise(text: str) -> str:
    """Normalise free text for matching phrases and options.

    Unicode is folded (NFKC + casefold) so "YES", "ｙｅｓ" and "yes" agree;
    apostrophes are dropped so "don't" equals "dont"; every other
    non-alphanumeric character (including "_" and ".") becomes a space, so
    "app_password" equals "app password" and "5.7.139" equals "5 7 139".

    Args:
        text: Any text.

    Returns:
        Lower-case words separated by single spaces.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _APOSTROPHES.sub("", folded)
    return " ".join(_NON_WORD.sub(" ", folded).split())


def said(text: str) -> str:
    """Short typed words as the phrase lists spell them (Teams' HTML gone, normalised)."""
    return normalise(clean_text(text or ""))


def plain_text(text: str) -> str:
    """Drop control and format characters (zero-width, bidi overrides), keeping line breaks."""
    # Printable text (str.isprintable: no "Other" or "Separator" character but the space) has
    # none to drop: the usual case, answered without a Python step per character (a pasted
    # error of 250 characters: 1 µs instead of 24).
    if text.replace("\n", "").replace("\t", "").isprintable():
        return text
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
