"""Phrase matching: options' phrases computed once agree with the plain ones; commands in sentences.

``Question.match_option`` uses each option's phrases computed once; they must be
exactly what the plain per-phrase versions give.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs.knowledge import _find_phrase, default_knowledge, normalise
from dialogs.understanding import Understanding


def test_commands_said_inside_a_sentence_are_still_recognised() -> None:
    reader = Understanding()
    assert reader.read("could you please start over", "mfa").intent == "start_over"
    assert reader.read("can I talk to a human?", "mfa").intent == "person"


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
