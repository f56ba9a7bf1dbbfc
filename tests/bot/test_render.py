"""Replies become activities: lines of text, text followed by a card, and notices given
after the turn go out as one message."""

from __future__ import annotations

from botbuilder.schema import Activity

from bot.render import ADAPTIVE_CARD, join_notices, to_activities
from dialogs.session import Reply

CARD = {"type": "AdaptiveCard", "version": "1.5", "body": []}
OTHER = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x"}]}


def shapes(replies: list[Reply]) -> list[tuple[str | None, object]]:
    return [(a.text, a.attachments[0].content if a.attachments else None)
            for a in to_activities(replies)]


def test_text_then_card_is_one_message_with_the_text_above_the_card() -> None:
    activities = to_activities([Reply(text="Got it."), Reply(card=CARD)])
    assert len(activities) == 1
    assert activities[0].text == "Got it." and activities[0].text_format == "markdown"
    assert activities[0].attachments[0].content_type == ADAPTIVE_CARD
    assert activities[0].attachments[0].content is CARD


def test_everything_else_keeps_its_order_and_nothing_is_lost() -> None:
    assert shapes([Reply(card=CARD), Reply(text="a")]) == [(None, CARD), ("a", None)]
    # Only one card joins a text; a card that already has its own text stays apart.
    assert shapes([Reply(text="a"), Reply(card=CARD), Reply(card=OTHER)]) == \
        [("a", CARD), (None, OTHER)]
    assert shapes([Reply(text="a"), Reply(text="b", card=CARD)]) == [("a", None), ("b", CARD)]
    assert shapes([Reply(text="a"), Reply(), Reply(card=CARD)]) == [("a", CARD)]
    assert shapes([Reply(card=CARD), Reply(text="a"), Reply(text="b")]) == \
        [(None, CARD), ("a\n\nb", None)]
    assert shapes([Reply()]) == []


def test_lines_of_text_said_in_a_row_are_one_message_a_paragraph_each() -> None:
    assert shapes([Reply(text="a"), Reply(text="b")]) == [("a\n\nb", None)]
    assert shapes([Reply(text="a"), Reply(text="b"), Reply(card=CARD)]) == [("a\n\nb", CARD)]
    assert shapes([Reply(text="a"), Reply(), Reply(text="b"), Reply(text="c")]) == \
        [("a\n\nb\n\nc", None)]
    (activity,) = to_activities([Reply(text="**a**"), Reply(text="- b")])
    assert activity.text_format == "markdown"  # so the blank line is a paragraph break


def _message(text: str | None = None, card: dict | None = None) -> Activity:
    return to_activities([Reply(text=text or "", card=card)])[0]


def test_a_text_notice_becomes_a_paragraph_of_the_last_message_above_its_card() -> None:
    pending = [_message("Your answers so far."), _message(card=CARD)]
    join_notices(pending, [_message("I've passed your request."), _message("We're closed.")])
    assert [(a.text, a.attachments[0].content if a.attachments else None) for a in pending] == \
        [("Your answers so far.", None), ("I've passed your request.\n\nWe're closed.", CARD)]
    assert pending[1].text_format == "markdown"
    with_text = [_message("Here is the summary.", CARD)]
    join_notices(with_text, [_message("I've passed your request.")])
    assert with_text[0].text == "Here is the summary.\n\nI've passed your request."


def test_a_notice_that_is_not_plain_text_or_has_nothing_to_join_is_sent_after() -> None:
    empty: list[Activity] = []
    notice = _message("I've passed your request.")
    join_notices(empty, [notice])
    assert empty == [notice]
    pending = [_message("Got it.")]
    with_card = _message("The queue", OTHER)
    typing = Activity(type="typing")
    join_notices(pending, [with_card, typing])
    assert pending[1:] == [with_card, typing] and pending[0].text == "Got it."
