"""The domain's replies as Bot Framework activities (the only place cards become attachments)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botbuilder.schema import Activity, ActivityTypes

from bot.wire import OwnCardAttachment, new_model
from dialogs.session import Reply

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def paragraphs(*texts: str) -> str:
    """Join lines of text said one after another into one markdown message."""
    return "\n\n".join(text for text in texts if text)


def to_activity(reply: Reply) -> Activity:
    """Return one message activity for a reply: its text, its card, or both."""
    fields: dict[str, Any] = {}
    if reply.text:
        fields["text"] = reply.text
        fields["text_format"] = "markdown"
    if reply.card is not None:
        # CardFactory.adaptive_card's attachment, marked as the bot's own plain JSON.
        fields["attachments"] = [OwnCardAttachment(content_type=ADAPTIVE_CARD,
                                                   content=reply.card)]
    activity: Activity = new_model(Activity, type=ActivityTypes.message, **fields)
    return activity


def to_activities(replies: Iterable[Reply]) -> list[Activity]:
    """Return the activities for a turn's replies, in order, skipping empty ones.

    Lines of text said one after another ("Sorry, I didn't catch that." and
    where the conversation stands) go out as one message, a paragraph each,
    and text followed by a card ("Got it." and the next question) goes out as
    one message with the text above the card, as Teams shows a message with
    both: one bubble instead of several, and one request to the connector
    instead of several.
    """
    merged: list[Reply] = []
    for reply in replies:
        if not reply.text and reply.card is None:
            continue
        previous = merged[-1] if merged else None
        if previous is None or previous.card is not None:
            merged.append(reply)
        elif reply.card is None:
            merged[-1] = Reply(text=paragraphs(previous.text, reply.text))
        elif not reply.text:
            merged[-1] = Reply(text=previous.text, card=reply.card)
        else:
            merged.append(reply)
    return [to_activity(reply) for reply in merged]


def join_notices(pending: list[Activity], notices: Iterable[Activity]) -> None:
    """Add notices to a turn's replies before they are sent: one message where possible.

    A notice of text alone (the handoff's "I've passed your request to CLOUDEX
    support.") becomes a paragraph of the turn's last message, above its card
    if it has one, so the customer gets one bubble and the connector one
    request. Anything else is sent after the replies, as it is. The turn's
    replies go out without copies (see ``bot.adapter.send_replies``), so pass
    notices built for this call, never ones kept elsewhere.
    """
    for notice in notices:
        last = pending[-1] if pending else None
        if (last is not None and last.type == ActivityTypes.message
                and notice.type == ActivityTypes.message and notice.text
                and not notice.attachments and not notice.suggested_actions):
            last.text = paragraphs(last.text or "", notice.text)
            last.text_format = "markdown"
        else:
            pending.append(notice)
