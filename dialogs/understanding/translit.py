"""Russian typed in Latin letters ("gde eto najti?", "spasibo"): written back in Cyrillic.

People without a Russian keyboard at hand type Russian in Latin letters, each
in their own way ("jashik", "yashik", "yaschik"). The lexicon, the question
words and the classifier read Russian in Cyrillic, so a message that is
Russian in Latin letters is transliterated back before it is read. It is
recognised by its words, not its letters: enough of its words must become
words the training data knows in Cyrillic, and one of them a Russian word that
is no English or Latvian word ("eto", "gde", "nado", "spasibo" — not "ne",
"no", "to", "da"). English terms inside it ("smtp auth", "E3") stay as typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Longest spellings first: "shch" before "sh" before "s".
_PAIRS: tuple[tuple[str, str], ...] = (
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"), ("sh", "ш"), ("ts", "ц"),
    ("ya", "я"), ("ja", "я"), ("yu", "ю"), ("ju", "ю"), ("yo", "е"), ("jo", "е"), ("ye", "е"),
    ("je", "е"), ("iy", "ий"), ("ij", "ий"), ("yj", "ый"), ("yi", "ый"), ("y", "ы"), ("j", "й"),
    ("'", "ь"), ("a", "а"), ("b", "б"), ("v", "в"), ("w", "в"), ("g", "г"), ("d", "д"), ("e", "е"),
    ("z", "з"), ("i", "и"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"),
    ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("h", "х"), ("c", "ц"), ("x", "кс"),
    ("q", "к"),
)
_SPELLING = re.compile("|".join(re.escape(latin) for latin, _ in _PAIRS))
_CYRILLIC_OF = dict(_PAIRS)
_LATIN_WORD = re.compile(r"[a-z']+")
# Russian words no English or Latvian message has: one of them must be there.
_RUSSIAN_ONLY = frozenset({
    "eto", "gde", "chto", "shto", "kak", "nado", "nuzhno", "nuzhen", "nuzhna", "spasibo",
    "spasibki", "privet", "zdravstvujte", "zdravstvuyte", "zdrastvujte", "zdraste", "dobryj",
    "dobriy", "dobryi", "pochta", "pochtu", "pochty", "pochtoj", "pisma", "pismo", "jashik",
    "yashik", "yaschik", "jaschik", "mne", "menja", "menya", "vkljuchen", "vklyuchen", "vkljuchena",
    "vklyuchena", "vykljuchen", "vyklyuchen", "otkljuchen", "otklyuchen", "tozhe", "uzhe", "eshe",
    "eshche", "seichas", "sejchas", "sechas", "pozhalujsta", "pozhaluysta", "pojalujsta", "ochen",
    "est", "nas", "ne", "pomogite", "pomoshch", "tak", "kogda", "pochemu", "zachem", "skolko",
    "obshij", "obshchij", "obychnyj", "obychnyi", "licenzija", "licenziya", "licenzii",
    "litsenziya", "parol", "vot", "pishet", "oshibka", "oshibku", "uhodjat", "uhodyat",
    "rabotaet", "otpravljaet", "otpravlyaet", "nastroit", "nastroit'", "nastrojka", "dlja", "dlya",
})
_AMBIGUOUS = frozenset({"ne", "nas", "est", "tak", "parol"})  # Latvian or English words too


def cyrillic(word: str) -> str:
    """``word`` (lower-case Latin) spelled in Cyrillic, by the commonest informal spellings."""
    return _SPELLING.sub(lambda match: _CYRILLIC_OF[match.group()], word)


def from_translit(folded: str, known: Callable[[str], bool]) -> str | None:
    """``folded`` written back in Cyrillic when it is Russian in Latin letters, else None.

    Args:
        folded: the folded message.
        known: whether a word is one the training data has (in any language).
    """
    latin = [w for w in _LATIN_WORD.findall(folded) if len(w) > 1]
    if not latin or not any(w in _RUSSIAN_ONLY and w not in _AMBIGUOUS for w in latin):
        return None
    if re.search(r"[а-я]", folded):
        return None
    chosen: dict[str, str] = {}
    russian = other = 0
    for word in set(latin):
        spelled = _known_spelling(word, known)
        if spelled is not None:
            chosen[word] = spelled
            russian += 1
        elif known(word):
            other += 1  # an English term ("smtp", "shared") or a Latvian word: kept
        else:
            chosen[word] = cyrillic(word)  # known in neither: Russian we have not seen
    if russian == 0 or other > russian:
        return None
    return _LATIN_WORD.sub(lambda m: chosen.get(m.group(), m.group()), folded)


def _known_spelling(word: str, known: Callable[[str], bool]) -> str | None:
    """The Cyrillic spelling of ``word`` the data knows ("jashik" -> "ящик", via ш -> щ)."""
    spelled = cyrillic(word)
    if known(spelled):
        return spelled
    for variant in (spelled.replace("ш", "щ"), spelled + "ь", spelled.replace("л", "ль"),
                    spelled.replace("ие", "ье"), spelled.replace("е", "э", 1)):
        if variant != spelled and known(variant):
            return variant
    return None
