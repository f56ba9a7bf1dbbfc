"""Understanding what customers write, in English, Latvian and Russian.

A message plus the question being asked becomes a :class:`Reading`: its
language, its intent (with the likely alternatives), the facts it states (each
with the words that said it and a confidence) and, for a question, its kind and
topic. The engine decides from the reading alone, through its rule table.

- :mod:`.text`: folding (diacritics, "ё") and the exact rules — addresses,
  passwords, error codes;
- :mod:`.lexicon` and :mod:`.facts`: facts with negation scope and hedges;
- :mod:`.questions`: a question's kind and topic;
- :mod:`.model`: the classifier (word and character n-grams, a class-weighted
  softmax with a calibrated temperature per head), trained from ``data/train``
  with numpy and scipy in about 1.5 s of CPU, cached as ``model.npz`` (no pickle,
  not in git) and applied with a few dictionary look-ups and numpy;
- :mod:`.moves` and :mod:`.phrases`: closed classes of words (wait, skip, a person …)
  and the narrow English questions the engine asks of a text;
- :mod:`.reader`: all of it together;
- :mod:`.evaluate`: ``make nlu-eval`` on the held-out split (``data/heldout``).
"""

from __future__ import annotations

from dialogs.text import normalise
from dialogs.understanding.facts import Fact
from dialogs.understanding.phrases import (
    asks_for_powershell,
    asks_when_it_works,
    match_follow_up,
    topic_words,
)
from dialogs.understanding.reader import STORE_BAR, Reading, Understanding, locale_language
from dialogs.understanding.text import contains_password, find_address, looks_like_error

__all__ = [
    "STORE_BAR",
    "Fact",
    "Reading",
    "Understanding",
    "asks_for_powershell",
    "asks_when_it_works",
    "contains_password",
    "find_address",
    "locale_language",
    "looks_like_error",
    "match_follow_up",
    "normalise",
    "topic_words",
]
