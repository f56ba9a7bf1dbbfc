"""Replies become activities: lines of text, and text followed by a card, go out as one message."""

from __future__ import annotations

from bot.render import ADAPTIVE_CARD, to_activities
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
