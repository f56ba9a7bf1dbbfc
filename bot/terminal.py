"""``make chat``: the same bot in a terminal, no Teams or Bot Connector needed.

Activities are built like Teams would build them and run through the real
``SupportBot`` with a tiny adapter that prints replies instead of posting
them. Cards are shown as text with numbered buttons: type the number to press
one, or type anything else as a message. State goes to the configured store,
so a chat resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import aiohttp
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ResourceResponse,
)

from bot.conversation import ConversationStateStore
from bot.extensions import BotExtension
from bot.handler import SupportBot
from bot.settings import Settings
from bot.store import open_store
from bot.store.base import Store
from dialogs.engine import FlowEngine

CHANNEL = "terminal"
# Terminals wrap a paste in these markers once asked to (xterm's "bracketed paste mode"),
# so several pasted lines can be told from several typed messages.
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
BRACKETED_PASTE_ON = "\x1b[?2004h"
BRACKETED_PASTE_OFF = "\x1b[?2004l"


async def read_message(readline: Callable[[], Awaitable[str]]) -> str | None:
    """Read one message: a typed line, or a whole paste of several lines; None at the end.

    A paste (between the bracketed-paste markers) is one message however many lines it
    has: a pasted error log keeps its line breaks and reaches the bot in one turn.
    """
    line = await readline()
    if not line:
        return None
    if PASTE_START not in line:
        return line.strip()
    text = line.replace(PASTE_START, "", 1)
    while PASTE_END not in text:
        more = await readline()
        if not more:
            break
        text += more
    before, _, after = text.partition(PASTE_END)
    return (before + after).strip()


class PrintingAdapter(BotAdapter):
    """An adapter whose 'connector' is the terminal."""

    def __init__(self, show: Callable[[Activity], None]) -> None:
        """Print each outgoing activity with ``show``."""
        super().__init__()
        self._show = show

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        """Show the bot's replies."""
        responses = []
        for index, activity in enumerate(activities):
            if activity.type == ActivityTypes.message:
                self._show(activity)
            responses.append(ResourceResponse(id=str(index)))
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> None:
        """Show an updated card like a new message (a terminal cannot edit history)."""
        self._show(activity)

    async def delete_activity(self, context: TurnContext, reference: Any) -> None:
        """Nothing to delete in a terminal."""


class CardPrinter:
    """Renders cards as text and remembers the buttons so a number can press one."""

    def __init__(self, out: TextIO) -> None:
        """Print to ``out``."""
        self.out = out
        self.buttons: list[dict[str, Any]] = []

    def show(self, activity: Activity) -> None:
        """Print one message activity."""
        if activity.text:
            self.out.write(f"\nbot> {activity.text}\n")
        for attachment in activity.attachments or []:
            if isinstance(attachment.content, dict):
                self.buttons = []
                self._card(attachment.content, indent="  ")
        self.out.flush()

    def _card(self, card: dict[str, Any], indent: str) -> None:
        self.out.write("\n")
        for element in card.get("body", []):
            self._element(element, indent)
        self._buttons(card.get("actions", []), indent)

    def _buttons(self, actions: list[dict[str, Any]], indent: str) -> None:
        for action in actions:
            self.buttons.append(action)
            self.out.write(f"{indent}[{len(self.buttons)}] {action.get('title', '')}\n")

    def _element(self, element: dict[str, Any], indent: str) -> None:
        kind = element.get("type")
        if kind == "TextBlock":
            self.out.write(f"{indent}{element.get('text', '')}\n")
        elif kind == "FactSet":
            for fact in element.get("facts", []):
                self.out.write(f"{indent}{fact.get('title')} {fact.get('value')}\n")
        elif kind == "CodeBlock":
            for line in str(element.get("codeSnippet", "")).splitlines():
                self.out.write(f"{indent}    PS> {line}\n")
        elif kind == "Container":
            for item in element.get("items", []):
                self._element(item, indent)
        elif kind == "Input.Text":
            self.out.write(f"{indent}({element.get('label') or 'type your answer'})\n")
        elif kind == "ActionSet":
            # Buttons inside the body (the summary's "Full steps") can be pressed too.
            self._buttons(element.get("actions", []), indent)


async def run_terminal_chat(
    settings: Settings, engine: FlowEngine, stdin: TextIO | None = None, out: TextIO | None = None
) -> int:
    """Chat with the bot on stdin/stdout until EOF or 'quit'."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    printer = CardPrinter(out)
    adapter = PrintingAdapter(printer.show)
    store = await open_store(settings.storage_url)
    conversations = ConversationStateStore(store.state)
    # Live checks work here too: sign-in is the device code flow, results come as new cards.
    http, live = _live_checks(settings, store, engine, conversations, adapter)
    bot = SupportBot(engine, conversations, [live])
    user = ChannelAccount(id="terminal-user", name="You")
    bot_account = ChannelAccount(id="mail-setup-assistant", name="Mail Setup Assistant")
    conversation = ConversationAccount(id="terminal-chat", conversation_type="personal")

    def activity(**fields: Any) -> Activity:
        return Activity(channel_id=CHANNEL, service_url="http://localhost/terminal",
                        from_property=user, recipient=bot_account, conversation=conversation,
                        **fields)

    async def turn(incoming: Activity) -> None:
        await adapter.run_pipeline(TurnContext(adapter, incoming), bot.on_turn)

    out.write("Mail Setup Assistant — terminal chat. Type a number to press a button, "
              "'quit' to leave.\n")
    tty = out.isatty()
    if tty:
        out.write(BRACKETED_PASTE_ON)  # a pasted error arrives as one message, not line by line
    try:
        await turn(activity(type=ActivityTypes.conversation_update,
                            members_added=[bot_account, user]))
        loop = asyncio.get_running_loop()

        async def readline() -> str:
            return await loop.run_in_executor(None, stdin.readline)

        while True:
            out.write("\nyou> ")
            out.flush()
            line = await read_message(readline)
            if line is None:
                break
            if line.lower() in {"quit", "exit"}:
                break
            if line.isdigit() and 1 <= int(line) <= len(printer.buttons):
                button = printer.buttons[int(line) - 1]
                if button.get("type") == "Action.ShowCard":
                    printer._card(button.get("card", {}), indent="    ")
                    continue
                await turn(activity(type=ActivityTypes.message, text="",
                                    value=dict(button.get("data", {}))))
            else:
                await turn(activity(type=ActivityTypes.message, text=line))
    finally:
        if tty:
            out.write(BRACKETED_PASTE_OFF)
        await live.close()
        await http.close()
        await store.close()
    return 0


def _live_checks(
    settings: Settings, store: Store, engine: FlowEngine,
    conversations: ConversationStateStore, adapter: PrintingAdapter,
) -> tuple[aiohttp.ClientSession, BotExtension]:
    """The live-check extension, wired to the terminal's adapter and a session of its own."""
    from bot.features import BotServices
    from bot.live_checks import LiveChecksExtension
    from bot.metrics import bot_metrics

    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())  # as app.py: no cookies
    services = BotServices(
        settings=settings, store=store, engine=engine, conversations=conversations,
        adapter=adapter,  # type: ignore[arg-type]  # proactive sends only need BotAdapter
        http=http, metrics=bot_metrics())
    return http, LiveChecksExtension(services)
