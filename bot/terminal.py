"""``make chat``: the same bot in a terminal, no Teams or Bot Connector needed.

Activities are built like Teams would build them and run through the real
``SupportBot`` with a tiny adapter that prints replies instead of posting
them. Cards are shown as text, markdown rendered for a terminal, with lettered
buttons: type the letter to press one, or type anything else as a message.
State goes to the configured store, so a chat resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import re
import string
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
from bot.store import Store, open_store
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


_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_BOLD_ON, _BOLD_OFF = "\033[1m", "\033[0m"
# Buttons are pressed with a letter, so they never read like the numbers of a list
# ("1. Authenticated SMTP is off" above "[a] Start").
BUTTON_KEYS = string.ascii_lowercase


def terminal_text(markdown: str, *, bold: bool) -> str:
    """Render the markdown the bot writes (bold, links) for a terminal.

    A link becomes its text with the address after it, since a terminal cannot
    hide an address behind a word; bold becomes bold where the terminal shows
    it (``bold``), and plain text elsewhere, never raw asterisks.
    """
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", markdown)
    return _BOLD.sub(lambda m: f"{_BOLD_ON}{m.group(1)}{_BOLD_OFF}" if bold else m.group(1), text)


class CardPrinter:
    """Renders cards as text and remembers the buttons so a letter can press one.

    What a card hides until a button is pressed (``isVisible: false``, opened by
    ``Action.ToggleVisibility``) stays hidden here too, and pressing that
    button prints it, as Teams would show it.
    """

    def __init__(self, out: TextIO) -> None:
        """Print to ``out`` (bold only where ``out`` is a terminal)."""
        self.out = out
        self.bold = bool(getattr(out, "isatty", lambda: False)())
        self.buttons: list[dict[str, Any]] = []
        self.hidden: dict[str, dict[str, Any]] = {}

    def show(self, activity: Activity) -> None:
        """Print one message activity."""
        if activity.text:
            self.out.write(f"\nbot> {self._text(activity.text)}\n")
        for attachment in activity.attachments or []:
            if isinstance(attachment.content, dict):
                self.buttons = []
                self.hidden = {}
                self._card(attachment.content, indent="  ")
        self.out.flush()

    def button(self, typed: str) -> dict[str, Any] | None:
        """The button a typed key presses ("a", "B"), or None."""
        key = typed.strip().lower()
        if len(key) == 1 and key in BUTTON_KEYS[:len(self.buttons)]:
            return self.buttons[BUTTON_KEYS.index(key)]
        return None

    def open(self, action: dict[str, Any]) -> None:
        """Show what a ShowCard or ToggleVisibility button opens (nothing is sent)."""
        if action.get("type") == "Action.ShowCard":
            self._card(action.get("card", {}), indent="    ")
            return
        self.out.write("\n")
        for element_id in action.get("targetElements", []):
            element = self.hidden.pop(str(element_id), None)
            if element is not None:
                self._element(dict(element, isVisible=True), indent="    ")
        self.out.flush()

    def _text(self, value: str) -> str:
        return terminal_text(value, bold=self.bold)

    def _card(self, card: dict[str, Any], indent: str) -> None:
        self.out.write("\n")
        for element in card.get("body", []):
            self._element(element, indent)
        self._buttons(card.get("actions", []), indent)

    def _buttons(self, actions: list[dict[str, Any]], indent: str) -> None:
        for action in actions:
            if len(self.buttons) >= len(BUTTON_KEYS):
                break
            self.buttons.append(action)
            key = BUTTON_KEYS[len(self.buttons) - 1]
            self.out.write(f"{indent}[{key}] {self._text(str(action.get('title', '')))}\n")

    def _element(self, element: dict[str, Any], indent: str) -> None:
        if element.get("isVisible") is False:
            if element.get("id"):
                self.hidden[str(element["id"])] = element
            return
        kind = element.get("type")
        if kind == "TextBlock":
            for line in str(element.get("text", "")).splitlines() or [""]:
                self.out.write(f"{indent}{self._text(line)}\n")
        elif kind == "FactSet":
            for fact in element.get("facts", []):
                self.out.write(f"{indent}{self._text(str(fact.get('title')))}: "
                               f"{self._text(str(fact.get('value')))}\n")
        elif kind == "CodeBlock":
            for line in str(element.get("codeSnippet", "")).splitlines():
                self.out.write(f"{indent}    PS> {line}\n")
        elif kind == "Container":
            for item in element.get("items", []):
                self._element(item, indent)
            select = element.get("selectAction")
            if isinstance(select, dict):  # a tappable row ("▸ reason"): a button here
                self._buttons([select], indent + "  ")
        elif kind == "Input.Text":
            self.out.write(f"{indent}({element.get('label') or 'type your answer'})\n")
        elif kind == "ActionSet":
            # Buttons inside the body ("Why this happens", "Show the fix") can be pressed too.
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
    conversations = ConversationStateStore(store.state, store.turns)
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

    out.write("Mail Setup Assistant — terminal chat. Type the letter in [ ] to press a "
              "button, 'quit' to leave.\n")
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
            button = printer.button(line)
            if button is not None:
                if button.get("type") in ("Action.ShowCard", "Action.ToggleVisibility"):
                    printer.open(button)
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
    from bot.effects import EffectRunner
    from bot.features import BotServices, staff_directory
    from bot.live_checks import LiveChecksExtension
    from bot.metrics import bot_metrics
    from bot.tls import http_session

    http = http_session(settings)  # as app.py: no cookies, TLS per TLS_CA_FILE
    services = BotServices(
        settings=settings, store=store, engine=engine, conversations=conversations,
        adapter=adapter,  # proactive sends only need a BotAdapter
        http=http, metrics=bot_metrics(), staff=staff_directory(settings, http),
        effects=EffectRunner(store, adapter, bot_metrics()))
    return http, LiveChecksExtension(services)
