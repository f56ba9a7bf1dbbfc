"""Phrase matching: the one-search forms agree with matching phrase by phrase.

``understanding`` looks for any of a set of phrases (a command's phrases, a
question's topic words) with one combined pattern, and ``Question.match_option``
uses each option's phrases computed once. Both must give exactly what the
plain per-phrase versions give.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs import understanding
from dialogs.knowledge import _find_phrase, default_knowledge, normalise

ALPHABET = st.sampled_from(list("ab .?-'@+ü_é1"))
TEXT = st.text(ALPHABET, max_size=24)
PHRASES = st.lists(st.text(ALPHABET, max_size=6), max_size=6).map(tuple)


def one_by_one(text: str, phrases: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in phrases if p)


@settings(max_examples=1500, deadline=None)
@given(TEXT, PHRASES)
def test_any_phrase_matches_exactly_when_one_phrase_does(text: str, phrases: tuple[str, ...]) -> None:
    assert understanding._contains_any_phrase(text, phrases) == one_by_one(text, phrases)


def test_known_overlaps() -> None:
    # "agent" fails its boundary inside "agents", the next alternative still matches.
    assert understanding._contains_any_phrase("support agents please", ("agent", "support"))
    assert not understanding._contains_any_phrase("agents", ("agent", "gents"))
    assert understanding._contains_any_phrase("a ? b", ("?",))
    assert not understanding._contains_any_phrase("anything", ("", ))


def test_commands_and_topics_still_recognised() -> None:
    assert understanding.match_command("could you please start over") == "start_over"
    assert understanding.match_command("can I talk to a human?") == "person"
    knowledge = default_knowledge()
    for question in knowledge.questions.values():
        for topic in question.topics:
            if topic:
                assert understanding._contains_any_phrase(f"well {topic} yes", question.topics)


def plain_phrases(option) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    seen: dict[str, None] = {}
    for text in (option.value, option.title, *option.synonyms):
        phrase = normalise(text)
        if phrase:
            seen.setdefault(phrase, None)
    return tuple(seen)


def test_option_phrases_are_computed_once_and_equal_the_plain_ones() -> None:
    knowledge = default_knowledge()
    for question in knowledge.questions.values():
        for option in question.options:
            assert option.phrases() == plain_phrases(option)
            assert option.phrases() is option.phrases()
            assert option.phrase_words == tuple(tuple(p.split()) for p in plain_phrases(option))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=8),
       st.lists(st.sampled_from(["a", "b", "c"]), max_size=3))
def test_find_phrase_takes_lists_and_tuples_alike(words: list[str], phrase: list[str]) -> None:
    expected = [(s, s + len(phrase)) for s in range(len(words) - len(phrase) + 1)
                if phrase and words[s:s + len(phrase)] == phrase]
    assert _find_phrase(words, phrase) == expected
    assert _find_phrase(tuple(words), tuple(phrase)) == expected
