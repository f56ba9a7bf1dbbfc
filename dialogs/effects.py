"""What a feature desk asks the edge to do, as plain values: the desk decides, the edge carries out.

A desk (the handoff, the live checks) takes data and returns effects;
``bot/effects.py`` runs them after the turn's state is stored:

* :class:`Say` joins the turn's own reply (one message where possible);
* :class:`SayTo` goes to another conversation — a customer's chat, a support
  thread — through the durable outbox when it must arrive;
* :class:`PostThread` opens a new thread in the support channel with a card;
* :class:`UpdateThreadCard` replaces a thread's first card (idempotent, retried);
* :class:`AskPerson` asks a person to take the conversation over (the live
  checks' findings only a person can resolve): the edge gives it to the
  handoff, so no feature calls another;
* :class:`Audit` and :class:`Count` record what happened.

References are the JSON of a Bot Framework conversation reference, which the
domain only passes along.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dialogs.session import Reply

Ref = Mapping[str, Any]


@dataclass(frozen=True)
class Say:
    """A reply in the conversation of the current turn."""

    reply: Reply


@dataclass(frozen=True)
class Undeliverable:
    """What to tell whom when a message that had to arrive is given up."""

    to: Ref
    text: str


@dataclass(frozen=True)
class SayTo:
    """Messages for another conversation (``to``), in order.

    Attributes:
        must_arrive: through the outbox: stored with the turn, retried until
            delivered or given up; False sends once, best effort.
        inert: the text carries someone else's words, already escaped (sent as
            markdown all the same: only the escaping makes it inert).
        on_fail: told when delivery is given up.
    """

    to: Ref
    replies: tuple[Reply, ...]
    must_arrive: bool = True
    ticket_id: str | None = None
    on_fail: Undeliverable | None = None


@dataclass(frozen=True)
class PostThread:
    """A new thread in the support channel (``channel``) whose first message is ``card``."""

    channel: Ref
    ticket_id: str
    card: Mapping[str, Any]
    summary: str
    on_fail: Undeliverable | None = None


@dataclass(frozen=True)
class UpdateThreadCard:
    """Replace the first message of a support thread (``thread`` has its ``activityId``)."""

    thread: Ref
    card: Mapping[str, Any]


@dataclass(frozen=True)
class HubHandoff:
    """The Bot Framework ``handoff.initiate`` event for a handoff hub, in this conversation."""

    customer: Ref
    context: Mapping[str, Any]
    transcript: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Audit:
    """An audit-log row."""

    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    conversation_id: str | None = None
    tenant_id: str | None = None


@dataclass(frozen=True)
class Count:
    """One more of a counter, e.g. ``Count("msa_handoffs_total", {"kind": "taken"})``."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AskPerson:
    """Ask a person to take over a customer's conversation, outside the customer's turn.

    Attributes:
        reason: why, as the handoff's reasons name it (``"checks"``).
        detail: what the agent should read first (English: agents read English).
        checks: the results to show the agent, as stored (plain JSON).
        customer: the customer's conversation reference; None: the conversation
            the effects are run in.
    """

    reason: str
    detail: str = ""
    checks: tuple[Mapping[str, Any], ...] = ()
    customer: Ref | None = None


Effect = Say | SayTo | PostThread | UpdateThreadCard | HubHandoff | AskPerson | Audit | Count
