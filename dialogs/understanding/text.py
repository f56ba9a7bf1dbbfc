"""Text as the understanding layer reads it, and the things that stay exact rules.

Customers type Latvian with and without diacritics and Russian with and without
"ё", so everything is read *folded*: lower case, the Baltic letters and "ё" mapped
to their plain forms ("ieslēgts" and "ieslegts" are one word), quotes unified,
white space collapsed. Punctuation stays: it separates clauses.

Exact things are rules, never a model: a mailbox address, a password someone
pasted, an SMTP status or Entra error code.
"""

from __future__ import annotations

import re
import re._constants as ops  # type: ignore[import-not-found]  # the parser re itself uses
import re._parser as parser  # type: ignore[import-not-found]
import unicodedata
from typing import Any

from dialogs.powershell import InvalidIdentity, validate_identity


def first_characters(pattern: str) -> frozenset[str] | None:
    """The characters a match of ``pattern`` can begin with (None: it cannot be told)."""
    def first(items: Any) -> tuple[set[str] | None, bool]:
        found: set[str] = set()
        for op, value in items:
            if op is ops.LITERAL:
                return found | {chr(value)}, False
            if op is ops.IN:
                chars: set[str] = set()
                for kind, item in value:
                    if kind is ops.LITERAL:
                        chars.add(chr(item))
                    elif kind is ops.RANGE and item[1] - item[0] < 400:
                        chars.update(chr(c) for c in range(item[0], item[1] + 1))
                    else:
                        return None, False
                return found | chars, False
            if op is ops.SUBPATTERN:
                value = ((op_value, item_value) for op_value, item_value in value[3])
                inner, empty = first(list(value))
            elif op is ops.BRANCH:
                inner, empty = set(), False
                for alternative in value[1]:
                    chars_of, empty_of = first(alternative)
                    if chars_of is None:
                        return None, False
                    inner |= chars_of
                    empty = empty or empty_of
            elif op in (ops.MAX_REPEAT, ops.MIN_REPEAT):
                inner, empty = first(value[2])
                empty = empty or value[0] == 0
            elif op in (ops.AT, ops.ASSERT, ops.ASSERT_NOT):
                continue
            else:
                return None, False
            if inner is None:
                return None, False
            found |= inner
            if not empty:
                return found, False
        return found, True

    chars, empty = first(parser.parse(pattern))
    return None if chars is None or empty else frozenset(chars)


def compile_guarded(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``pattern`` compiled behind a lookahead for the characters a match can begin with.

    It finds the same matches (the lookahead consumes nothing, and every match begins
    with one of those characters), 2-3 times faster in a long text: ``re`` tries a
    pattern led by word boundaries and groups at every position, and the lookahead
    turns most positions away at one character. Unchanged where they cannot be told.
    """
    first = first_characters(pattern)
    if first is None:
        return re.compile(pattern, flags)
    allowed = "".join(re.escape(character) for character in sorted(first))
    return re.compile(f"(?=[{allowed}])(?:{pattern})", flags)


# Latvian, Lithuanian, Estonian and German letters to their plain forms, and Russian "ё".
# Cyrillic "й" is a letter of its own and stays (NFD would strip its breve).
_FOLD = str.maketrans({
    "ā": "a", "č": "c", "ē": "e", "ģ": "g", "ī": "i", "ķ": "k", "ļ": "l", "ņ": "n",
    "š": "s", "ū": "u", "ž": "z", "ō": "o", "ŗ": "r", "ą": "a", "ę": "e", "ė": "e",
    "į": "i", "ų": "u", "õ": "o", "ä": "a", "ö": "o", "ü": "u", "ё": "е",
    "’": "'", "‘": "'", "`": "'", "´": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
    "–": "-", "—": "-", "\u00a0": " ",
})
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")

ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PASSWORD = re.compile(
    r"(?i)\b(?:pass(?:word|wort|wd)?|pwd|kennwort|parole|parol|пароль|app[- ]?password)\b"
    r"\s*(?:is|ir|:|=|ist|-)\s*\S{4,}"
)
# An SMTP reply ("535 5.7.139"), an enhanced status code ("5.7.60"), an Entra code.
ERROR_CODE = re.compile(
    r"(?i)(?<![\w.])(?:[245]\d\d[ -]\d\.\d{1,3}\.\d{1,3}|[45]\.\d\.\d{1,3}|AADSTS\d{5,})(?![\w])")
_ERRORISH = compile_guarded(
    r"(\b[245]\d\d[ -]\d\.\d{1,3}\.\d{1,3}\b|\b[45]\.\d\.\d{1,3}\b|AADSTS\d+|exception|"
    r"error|failed|unable to|unsuccessful|denied|refused|timed? ?out|"
    r"kļūd|kļud|klūd|kluda|kludas|ошибк|не удалось)", re.IGNORECASE)
WORD = re.compile(r"[0-9a-zа-яіїєґ]+(?:['.][0-9a-zа-яіїєґ]+)*")
_CYRILLIC = re.compile(r"[а-яё]")
_LETTER = re.compile(r"[a-zа-яё]")


def fold(text: str) -> str:
    """Lower-case ``text``, map diacritics and "ё" away, unify quotes and collapse spaces."""
    folded = unicodedata.normalize("NFKC", text).lower().translate(_FOLD)
    folded = _SPACES.sub(" ", folded)
    if "\n" in folded:  # (the blank-line pattern needs one: a one-line message skips its scan)
        folded = _BLANK_LINES.sub("\n", folded)
    return folded.strip()


def words(folded: str) -> list[str]:
    """The words of a folded text (letters and digits; "5.7.139" and "don't" stay one word)."""
    return WORD.findall(folded)


def cyrillic_share(folded: str) -> float:
    """The share of letters in ``folded`` that are Cyrillic (0 when it has none)."""
    letters = len(_LETTER.findall(folded))
    return len(_CYRILLIC.findall(folded)) / letters if letters else 0.0


def find_address(text: str) -> str | None:
    """Return the mailbox address in ``text`` when it is one we can put in PowerShell."""
    if not text or "@" not in text:
        # Every address has one; without it the pattern would still be tried from every
        # position of the text (and retried along each run of letters: slow on a paste).
        return None
    for candidate in ADDRESS.findall(text):
        candidate = candidate.strip(".'")
        try:
            return validate_identity(candidate)
        except InvalidIdentity:
            continue
    return None


def without_addresses(text: str) -> str:
    """``text`` with each address replaced by the word "address" (its dots are no clause ends)."""
    return ADDRESS.sub(" address ", text) if "@" in text else text


# What a question says about a password ("is the app password safe?", "vai parole ir droša?",
# "пароль: это безопасно?"): words, never a secret. Stems, folded.
_ABOUT_A_PASSWORD = re.compile(
    r"^(?:safe|secure|required|needed|necessary|mandatory|enough|stored|saved|kept|visible|"
    r"expired|expiring|valid|still|changed|different|same|okay|what|which|where|when|does|"
    r"dros|vajadzig|nepieciesam|obligat|derig|saglabat|redzam|japarbauda|jamaina|kada|kur|kad|"
    r"безопас|надеж|нужен|нужна|нужно|обязател|действител|сохран|виден|видн|какой|какая|где|когда|"
    r"это)")
_QUESTION_END = re.compile(r"\?\s*$")


def contains_password(text: str) -> bool:
    """True when a message looks like it shares a password (we refuse to keep it).

    A question *about* a password ("is an app password safe?", "vai lietotnes parole ir
    droša?", "пароль: это безопасно?") shares none: what follows "password is" there is a
    plain word a question asks with. Anything else after it is taken for a secret (fail closed).
    """
    for match in _PASSWORD.finditer(text):
        said = match.group().split()[-1]
        value = fold(said).strip("?!.,;:")
        if said.split(":")[-1] != said:
            value = fold(said.split(":")[-1]).strip("?!.,;:")
        asked = _QUESTION_END.search(text) is not None
        if asked and value.isalpha() and _ABOUT_A_PASSWORD.search(value) is not None:
            continue
        return True
    return False


def looks_like_error(text: str) -> bool:
    """True when a message reads like an error report rather than a chat answer."""
    return _ERRORISH.search(text) is not None


# A bare SMTP reply code ("error 535") or an Entra error number ("53003"), said beside error words.
_BARE_CODE = re.compile(r"(?<![\w.])(?:[45]\d\d|\d{5,7})(?![\w.])")


def names_a_bare_code(text: str) -> bool:
    """True for "we get an error 535", "kļūda 53003": an error word and a bare code."""
    return _BARE_CODE.search(text) is not None and looks_like_error(text)


def has_error_code(text: str) -> bool:
    """True when ``text`` holds an SMTP status, an enhanced status code or an Entra code."""
    return ERROR_CODE.search(text) is not None
