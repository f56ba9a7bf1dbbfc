"""Drive the real ``SupportBot`` through botbuilder's ``TestAdapter``/``TestFlow``.

The bot runs with the real engine, the real conversation store on a
``memory://`` store (or a SQLite file when a test wants to inspect the bytes)
and the real audit recorder. Activities carry Teams' shape (channel
``msteams``, a personal conversation with a tenant), so the Teams handler
paths run. Every card the bot sends on these paths is validated against the
Adaptive Card 1.5 schema as it arrives, so the conversation tests also prove
that every card actually produced is valid.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botbuilder.core.adapters import TestAdapter, TestFlow
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount

from bot.conversation import ConversationStateStore, conversation_key
from bot.handler import SupportBot
from bot.metrics import bot_metrics
from bot.observe import TurnEventsRecorder
from bot.store import Store, open_store
from dialogs.engine import FlowEngine
from tests.support.cards import card_errors, cards_in
from tests.support.harness import buttons, texts

TENANT = "8d6a7f2c-1b3e-4c5d-9e8f-0a1b2c3d4e5f"
USER = ChannelAccount(id="29:customer-user", name="Alex Wilber",
                      aad_object_id="5c1ad3f2-5e67-4f2b-9a0e-3b4c6d7e8f90")
BOT = ChannelAccount(id="28:00000000-0000-0000-0000-000000000000", name="Mail Setup Assistant")
_conversation_ids = itertools.count(1)

# The answers a customer gives when a test does not care (everything fine, OAuth).
DEFAULT_ANSWERS: dict[str, str] = {
    "mailbox": "tms@contoso.com",
    "mailbox_type": "user",
    "license": "yes",
    "mfa": "no",
    "security_defaults": "no",
    "org_smtp_auth": "enabled",
    "mailbox_smtp_auth": "enabled",
    "conditional_access": "no",
    "auth_method": "oauth",
    "test_result": "works",
}


@dataclass
class Replies:
    """What the bot sent in one turn, as the JSON Teams would receive."""

    activities: list[dict[str, Any]]

    @property
    def text(self) -> str:
        """All visible text: message texts and card TextBlocks, FactSets, code."""
        return texts(self.activities)

    @property
    def buttons(self) -> dict[str, dict[str, Any]]:
        """The last card's Action.Submit buttons: title -> data."""
        return buttons(self.activities)

    @property
    def cards(self) -> list[dict[str, Any]]:
        """Every Adaptive Card sent this turn."""
        return [card for activity in self.activities for card in cards_in(activity)]

    def button(self, title: str) -> dict[str, Any]:
        """Return the data of the last card's button ``title`` (fails loudly when missing)."""
        found = self.buttons
        assert title in found, f"no button {title!r}; buttons are {sorted(found)}"
        return found[title]


@dataclass
class BotDriver:
    """One Teams personal chat with the bot, through TestAdapter and TestFlow."""

    bot: SupportBot
    store: Store
    conversations: ConversationStateStore
    conversation_id: str = field(
        default_factory=lambda: f"a:adapter-chat-{next(_conversation_ids)}")
    produced_cards: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        template = Activity(
            channel_id="msteams",
            service_url="https://smba.trafficmanager.net/emea/",
            from_property=USER,
            recipient=BOT,
            conversation=ConversationAccount(id=self.conversation_id, conversation_type="personal",
                                             tenant_id=TENANT),
            channel_data={"tenant": {"id": TENANT}},
            locale="en-US",
        )
        self.adapter = TestAdapter(self.bot.on_turn, template)

    @property
    def key(self) -> str:
        """The conversation's storage key."""
        return conversation_key("msteams", self.conversation_id)

    async def send(self, activity: Activity) -> Replies:
        """Send one activity through TestFlow; collect every reply with ``assert_reply``."""
        collected: list[Activity] = []

        async def collect(reply: Activity, description: str | None = None) -> None:
            # Only collect here: TestFlow retries a failing inspector without awaiting it.
            collected.append(reply)

        flow: TestFlow = await self.adapter.send(activity)
        # The pipeline ran to completion inside send(): everything it said is buffered now.
        while self.adapter.activity_buffer:
            flow = await flow.assert_reply(collect)
        assert not self.adapter.activity_buffer
        bodies = [reply.serialize() for reply in collected if reply.type == "message"]
        for body in bodies:
            assert "Traceback" not in json.dumps(body), body
            for card in cards_in(body):
                assert card_errors(card) == [], card_errors(card)
                self.produced_cards.append(card)
        return Replies(bodies)

    async def say(self, text: str) -> Replies:
        """Type a message; the bot must always answer it."""
        replies = await self.send(Activity(type="message", text=text))
        assert replies.activities, f"no reply to {text!r}"
        return replies

    async def press(self, data: dict[str, Any]) -> Replies:
        """Press an Action.Submit button: Teams posts a message whose ``value`` is its data."""
        replies = await self.send(Activity(type="message", text="", value=dict(data)))
        assert replies.activities, f"no reply to button {data!r}"
        return replies

    async def install(self) -> Replies:
        """Teams' install: ``installationUpdate`` (add) then ``conversationUpdate`` (bot added)."""
        first = await self.send(Activity(type="installationUpdate", action="add"))
        second = await self.send_conversation_update()
        return Replies(first.activities + second.activities)

    async def send_conversation_update(self) -> Replies:
        """Teams' ``conversationUpdate`` announcing that the bot was added."""
        return await self.send(Activity(type="conversationUpdate", members_added=[BOT]))

    async def snapshot(self) -> dict[str, Any]:
        """The flow snapshot as stored for this conversation."""
        record, _ = await self.conversations.load(self.key)
        assert record.snapshot is not None
        return record.snapshot

    async def state(self) -> str:
        """The flow state the conversation is stored in."""
        return str((await self.snapshot())["state"])

    async def answers(self) -> dict[str, Any]:
        """The stored answers."""
        return dict((await self.snapshot())["facts"].get("answers", {}))

    async def press_answer(self, question: str, value: str) -> Replies:
        """Press the answer button for ``question`` (the mailbox card's Next carries the input)."""
        if question == "mailbox":
            return await self.press({"msa": "answer", "question": "mailbox", "mailbox": value})
        return await self.press({"msa": "answer", "question": question, "value": value})

    async def answer_until(self, stop: str, answers: dict[str, str] | None = None) -> Replies:
        """Start and answer by button until question ``stop`` is being asked; return its replies."""
        chosen = {**DEFAULT_ANSWERS, **(answers or {})}
        replies = await self.say("start")
        while (state := await self.state()) != f"ask_{stop}":
            assert state.startswith("ask_"), f"expected a question before {stop}, got {state}"
            question = state.removeprefix("ask_")
            replies = await self.press_answer(question, chosen[question])
        return replies


async def make_driver(
    engine: FlowEngine, storage_url: str = "memory://"
) -> tuple[BotDriver, Store]:
    """Open a store and build the bot on it with the audit recorder."""
    store = await open_store(storage_url)
    conversations = ConversationStateStore(store.state, store.turns)
    bot = SupportBot(engine, conversations, [TurnEventsRecorder(bot_metrics(), store.audit)])
    return BotDriver(bot=bot, store=store, conversations=conversations), store


@pytest.fixture
async def driver(engine: FlowEngine) -> AsyncIterator[BotDriver]:
    """A fresh personal chat with the bot on an in-memory store."""
    chat, store = await make_driver(engine)
    try:
        yield chat
    finally:
        await store.close()
