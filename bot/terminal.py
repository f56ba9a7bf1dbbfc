"""``make chat``: the same bot in a terminal, no Teams or Bot Connector needed.

Activities are built like Teams would build them and run through the real
``SupportBot``, opened by the same composition root as the server
(:mod:`bot.composition`), with a tiny adapter that prints what the bot says
instead of posting it. Cards are shown as text, markdown rendered for a
terminal, with lettered buttons: type the letter to press one, or type
anything else as a message. State goes to the configured store, so a chat
resumes where it stopped.

The person at the terminal is also a local CLOUDEX staff member — in this
terminal only (:class:`TerminalStaff` trusts nothing that did not come through
:class:`PrintingAdapter`, and the server never uses it) — so the staff tools
(``kb``, ``ps``, ``diagnose``…) answer here, and they can play the support agent
in a local support channel: ``/agent take``, ``/agent <text>``, ``/agent done``
(``/help`` lists them). The agent's side is printed with ``support>``.
"""

from __future__ import annotations

import asyncio
import dataclasses
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

from bot.composition import open_bot
from bot.features import staff_directory
from bot.identity import StaffDirectory
from bot.metrics import bot_metrics
from bot.settings import Settings
from dialogs.engine import FlowEngine
from dialogs.handoff import cards as handoff_cards
from dialogs.staff import STAFF_COMMANDS

CHANNEL = "terminal"
SERVICE_URL = "http://localhost/terminal"
# The local support channel the terminal's agent works in (pinned, as SUPPORT_CHANNEL_ID).
SUPPORT_CHANNEL = "terminal-support"
CUSTOMER = ChannelAccount(id="terminal-user", name="You")
AGENT = ChannelAccount(id="terminal-agent", name="Local agent")
BOT = ChannelAccount(id="mail-setup-assistant", name="Mail Setup Assistant")
AGENT_COMMAND = "/agent"
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


def in_support_channel(conversation_id: str | None) -> bool:
    """True for the local support channel and its threads (the agent's side)."""
    return str(conversation_id or "").split(";", 1)[0] == SUPPORT_CHANNEL


class PrintingAdapter(BotAdapter):
    """An adapter whose 'connector' is the terminal: the customer's chat and the support channel.

    Besides the SDK's methods it has the ones :mod:`bot.effects` sends with
    (``send_to``, ``create_thread``, ``update_in``), so handoff notices, relays
    and thread cards reach the terminal as they would reach Teams.
    """

    def __init__(self, show: Callable[[Activity], None],
                 show_support: Callable[[Activity], None] | None = None) -> None:
        """Print the customer's side with ``show``, the support channel's with ``show_support``."""
        super().__init__()
        self._show = show
        self._show_support = show_support or show
        self.threads: list[dict[str, Any]] = []  # support threads opened, oldest first

    def _print(self, conversation_id: str | None, activity: Activity) -> None:
        (self._show_support if in_support_channel(conversation_id) else self._show)(activity)

    def use_http_session(self, session: aiohttp.ClientSession | None) -> None:
        """Nothing to post over: the terminal prints."""

    async def send_activities(
        self, context: TurnContext, activities: list[Activity]
    ) -> list[ResourceResponse]:
        """Show the bot's replies."""
        responses = []
        for index, activity in enumerate(activities):
            if activity.type == ActivityTypes.message:
                self._print(activity.conversation.id if activity.conversation else None,
                            activity)
            responses.append(ResourceResponse(id=str(index)))
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> None:
        """Show an updated card like a new message (a terminal cannot edit history)."""
        self._print(activity.conversation.id if activity.conversation else None, activity)

    async def delete_activity(self, context: TurnContext, reference: Any) -> None:
        """Nothing to delete in a terminal."""

    async def send_to(self, reference: dict[str, Any],
                      activities: list[dict[str, Any]]) -> list[str | None]:
        """Show messages sent to a stored conversation (a relay, a notice)."""
        conversation_id = str((reference.get("conversation") or {}).get("id") or "")
        for activity in activities:
            self._print(conversation_id, Activity().deserialize(activity))
        return [None] * len(activities)

    async def update_in(self, reference: dict[str, Any], activity: dict[str, Any]) -> None:
        """Show a thread's updated card again."""
        conversation_id = str((reference.get("conversation") or {}).get("id") or "")
        self._print(conversation_id, Activity().deserialize(activity))

    async def create_thread(self, channel: dict[str, Any],
                            activity: dict[str, Any]) -> dict[str, Any]:
        """Open a thread in the local support channel; return its reference."""
        number = len(self.threads) + 1
        thread = {"activityId": str(number), "bot": channel.get("bot"), "channelId": CHANNEL,
                  "conversation": {"id": f"{SUPPORT_CHANNEL};messageid={number}",
                                   "isGroup": True, "conversationType": "channel"},
                  "serviceUrl": SERVICE_URL}
        self.threads.append(thread)
        self._print(SUPPORT_CHANNEL, Activity().deserialize(activity))
        return thread


class TerminalStaff(StaffDirectory):
    """The staff rule of ``make chat``: whoever types in this terminal is staff.

    Only turns that came through :class:`PrintingAdapter` count; anything else
    is asked the configured rule. The server never builds this class, so nothing
    that arrives over HTTP is ever staff because of it.
    """

    async def is_staff(self, turn: Any) -> bool:
        """True for the terminal's own turns; the configured rule for anything else."""
        if isinstance(getattr(turn, "adapter", None), PrintingAdapter):
            return True
        return await super().is_staff(turn)

    def describe(self) -> str:
        """Say who counts as staff here."""
        return "staff are the person at this terminal (make chat only); elsewhere " + (
            super().describe())


def terminal_staff(settings: Settings, http: aiohttp.ClientSession) -> StaffDirectory:
    """The configured staff rule, plus the terminal's own user (see :class:`TerminalStaff`)."""
    rule = staff_directory(settings, http)
    return TerminalStaff(settings, http, rule.token, roster=rule.roster)


def terminal_help() -> str:
    """What can be typed here besides answers to the bot."""
    staff = [f"  {(spec.usage or spec.name):<22} {spec.help}"
             for spec in STAFF_COMMANDS.values() if spec.handler is not None]
    return "\n".join([
        "This terminal:",
        "  a, b, c…               press the button with that letter",
        "  /help                  this list",
        "  quit                   leave",
        "You are a local CLOUDEX staff member here (in this terminal only):",
        *staff,
        "And the local support agent, once the customer asks for a person",
        "(\"talk to a person\"); the agent's side shows as support>:",
        f"  {AGENT_COMMAND} take            take the conversation over",
        f"  {AGENT_COMMAND} <text>          say something to the customer as the agent",
        f"  {AGENT_COMMAND} done            hand the conversation back to the bot",
        f"  {AGENT_COMMAND} queue           who is waiting for a person",
    ])


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

    def __init__(self, out: TextIO, speaker: str = "bot") -> None:
        """Print to ``out`` (bold only where ``out`` is a terminal) as ``speaker``."""
        self.out = out
        self.speaker = speaker
        self.bold = bool(getattr(out, "isatty", lambda: False)())
        self.buttons: list[dict[str, Any]] = []
        self.hidden: dict[str, dict[str, Any]] = {}

    def show(self, activity: Activity) -> None:
        """Print one message activity."""
        if activity.text:
            self.out.write(f"\n{self.speaker}> {self._text(activity.text)}\n")
        for attachment in activity.attachments or []:
            if isinstance(attachment.content, dict):
                self.buttons = []
                self.hidden = {}
                if not activity.text:
                    self.out.write(f"\n{self.speaker}>")
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
    adapter = PrintingAdapter(printer.show, CardPrinter(out, speaker="support").show)
    # The same wiring as the server; the support channel is the terminal's own.
    settings = dataclasses.replace(settings, support_channel_id=SUPPORT_CHANNEL)
    async with open_bot(settings, engine, adapter, bot_metrics(),
                        staff=terminal_staff) as running:
        customer_chat = ConversationAccount(id="terminal-chat", conversation_type="personal")

        def activity(**fields: Any) -> Activity:
            return Activity(channel_id=CHANNEL, service_url=SERVICE_URL, from_property=CUSTOMER,
                            recipient=BOT, conversation=customer_chat, **fields)

        def as_agent(typed: str) -> Activity:
            # In the newest support thread (in the channel itself before there is one).
            where = (adapter.threads[-1]["conversation"]["id"] if adapter.threads
                     else SUPPORT_CHANNEL)
            take = typed.lower() == "take"
            return Activity(
                type=ActivityTypes.message, channel_id=CHANNEL, service_url=SERVICE_URL,
                from_property=AGENT, recipient=BOT, text="" if take else typed,
                value={"msa": handoff_cards.VERB_TAKE_OVER} if take else None,
                conversation=ConversationAccount(id=where, conversation_type="channel",
                                                 is_group=True),
                channel_data={"channel": {"id": SUPPORT_CHANNEL}})

        async def turn(incoming: Activity) -> None:
            await adapter.run_pipeline(TurnContext(adapter, incoming), running.bot.on_turn)

        out.write("Mail Setup Assistant — terminal chat. Type the letter in [ ] to press a "
                  "button, /help for this terminal's commands, 'quit' to leave.\n")
        tty = out.isatty()
        if tty:
            out.write(BRACKETED_PASTE_ON)  # a pasted error arrives as one message
        try:
            await turn(activity(type=ActivityTypes.conversation_update,
                                members_added=[BOT, CUSTOMER]))
            loop = asyncio.get_running_loop()

            async def readline() -> str:
                return await loop.run_in_executor(None, stdin.readline)

            while True:
                out.write("\nyou> ")
                out.flush()
                line = await read_message(readline)
                if line is None or line.lower() in {"quit", "exit"}:
                    break
                button = printer.button(line)
                command, _, rest = line.partition(" ")
                if line.lower() == "/help":
                    out.write(f"\n{terminal_help()}\n")
                elif command.lower() == AGENT_COMMAND:
                    if rest.strip():
                        await turn(as_agent(rest.strip()))
                    else:
                        out.write(f"\n{terminal_help()}\n")
                elif button is not None:
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
    return 0
