"""Understanding what customers write, in English, Latvian and Russian.

A message plus the question being asked becomes a :class:`Reading`: its
language, its intent (with the likely alternatives), the facts it states (each
with the words that said it and a confidence) and, for a question, its kind and
topic. The engine decides from the reading alone, through its rule table.

- :mod:`.text`: folding (diacritics, "ё") and the exact rules — addresses,
  passwords, error codes;
- :mod:`.lexicon` and :mod:`.facts`: facts with negation scope and hedges;
- :mod:`.questions`: a question's kind and topic;
- :mod:`.model`: the classifier, trained from ``data/train`` with scikit-learn,
  applied with numpy;
- :mod:`.reader`: all of it together;
- :mod:`.evaluate`: ``make nlu-eval`` on the held-out split (``data/heldout``).
"""

from __future__ import annotations

from dialogs.understanding.facts import Fact
from dialogs.understanding.phrases import (
    _contains_any_phrase,
    answer_part,
    asks_for_powershell,
    asks_when_it_works,
    describes_a_problem,
    extract_facts,
    is_question,
    is_skip,
    is_unsure,
    match_command,
    match_follow_up,
    match_outcome,
    normalise,
    opens_with_greeting,
    starts_like_question,
    topic_words,
)
from dialogs.understanding.reader import STORE_BAR, Reading, Understanding, locale_language
from dialogs.understanding.text import contains_password, find_address, looks_like_error

__all__ = [
    "STORE_BAR",
    "Fact",
    "Reading",
    "Understanding",
    "_contains_any_phrase",
    "answer_part",
    "asks_for_powershell",
    "asks_when_it_works",
    "describes_a_problem",
    "extract_facts",
    "is_skip",
    "is_unsure",
    "opens_with_greeting",
    "contains_password",
    "find_address",
    "is_question",
    "locale_language",
    "looks_like_error",
    "match_command",
    "match_follow_up",
    "match_outcome",
    "normalise",
    "starts_like_question",
    "topic_words",
]
