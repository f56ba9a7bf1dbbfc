"""Turn the domain's replies into Bot Framework activities (the only place cards become attachments)."""

from __future__ import annotations

from collections.abc import Iterable

from botbuilder.schema import Activity, ActivityTypes

from bot.wire import OwnCardAttachment
from dialogs.session import Reply

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def to_activity(reply: Reply) -> Activity:
    """Return one message activity for a reply: its text, its card, or both."""
    activity = Activity(type=ActivityTypes.message)
    if reply.text:
        activity.text = reply.text
        activity.text_format = "markdown"
    if reply.card is not None:
        # CardFactory.adaptive_card's attachment, marked as the bot's own plain JSON.
        activity.attachments = [OwnCardAttachment(content_type=ADAPTIVE_CARD, content=reply.card)]
    return activity


def to_activities(replies: Iterable[Reply]) -> list[Activity]:
    """Return the activities for a turn's replies, in order, skipping empty ones.

    A line of text followed by a card ("Got it." and the next question) goes
    out as one message, the text above the card, as Teams shows a message
    with both: one bubble instead of two, and one request to the connector
    instead of two.
    """
    merged: list[Reply] = []
    for reply in replies:
        if not reply.text and reply.card is None:
            continue
        previous = merged[-1] if merged else None
        if (previous is not None and previous.card is None and not reply.text
                and reply.card is not None):
            merged[-1] = Reply(text=previous.text, card=reply.card)
        else:
            merged.append(reply)
    return [to_activity(reply) for reply in merged]
