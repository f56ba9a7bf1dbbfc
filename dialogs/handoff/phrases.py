"""Every sentence of the human handoff, in one place, and how someone's own words are made inert.

What the customer reads is in :class:`ToCustomer`: English source texts that
are message ids of the translation catalogs (:mod:`dialogs.i18n`), like
:mod:`dialogs.messages`, said through the customer's translator
(``tr(ToCustomer.JOINED)``) in the language of the customer's conversation;
after changing or adding one, run ``make i18n`` and translate the new
entries. What agents and staff read is the module's other constants, in
English. Agents see the customer's own words as written but escaped:
markdown and HTML show as the characters they are, links as text, and
nothing a customer types can look like a line the bot or an agent wrote.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dialogs.i18n import Translator
from dialogs.support_hours import SupportHours
from dialogs.text import plain_text

SUPPORT_NAME = "CLOUDEX support"


# ----- to the customer (translated) --------------------------------------------------------------
class ToCustomer:
    """What the customer reads during a handoff: English, and the catalogs' message ids.

    Agents' words are never translated; the bot's own words around them are.
    Sentences whose subject is an agent avoid gendered verb forms in Latvian
    and Russian (the agent's gender is not known), and a sentence that would
    read differently without a name has its own nameless version.
    """

    SUPPORT_NAME = SUPPORT_NAME  # the label after an agent's name: "Dana (CLOUDEX support):"
    AN_AGENT = "A CLOUDEX agent"
    QUEUED = ("I've asked a person from CLOUDEX support to join.{place} They will see your answers "
              "so far, so you won't have to repeat anything.")
    QUEUED_NO_CHANNEL = ("I've passed your request to CLOUDEX support.{place} Everything you told "
                         "me goes with it, so you won't have to repeat anything.")
    QUEUE_PLACE = " You are number {position} in the queue."
    ALREADY_QUEUED = "You're already waiting for a person from CLOUDEX support.{place}"
    ADDED_TO_REQUEST = "Added to your request — the agent will see it."
    JOINED = "**{agent}** from CLOUDEX support has joined. Type your messages here as usual."
    TAKEN_FROM = "**{agent}** from CLOUDEX support is taking over from {previous}."
    TYPE_YOUR_MESSAGE = ("{agent} from CLOUDEX support has your conversation now; please type "
                         "your message.")
    KEPT_BACK = "I did not pass it on."
    NOT_PASSED_ON = ("⚠️ I could not pass that message on just now. Please send it again in a "
                     "minute.")
    HANDED_BACK = "{agent} has handed the conversation back to me, the Mail Setup Assistant."
    HANDED_BACK_BY_SUPPORT = ("CLOUDEX support has handed the conversation back to me, the Mail "
                              "Setup Assistant.")
    AFTER_HOURS = ("CLOUDEX support is not staffed right now (our hours: {hours}). Your request "
                   "is in the queue and a person will get back to you here {when}.")
    BUSY_BACK_BY = ("Everyone at CLOUDEX support is busy right now, sorry for the wait. Your "
                    "request stays in the queue and a person will get back to you here at the "
                    "latest {when}. Meanwhile you can keep going with me.")
    BUSY_BACK_SOON = ("Everyone at CLOUDEX support is busy right now, sorry for the wait. Your "
                      "request stays in the queue and a person will get back to you here as soon "
                      "as someone is free. Meanwhile you can keep going with me.")
    HUB_CONNECTING = ("I'm connecting you with a person from CLOUDEX support. They will see your "
                      "answers so far.")
    HUB_FAILED = ("Sorry, I couldn't reach a person from CLOUDEX support. You can keep going "
                  "with me, or say \"talk to a person\" to try again.")
    HUB_FAILED_BECAUSE = ("Sorry, I couldn't reach a person from CLOUDEX support ({reason}). You "
                          "can keep going with me, or say \"talk to a person\" to try again.")
    GLAD = "Glad to hear it!"
    SORRY_NOT_SOLVED = "Sorry it isn't solved yet."
    NOTED = "Noted, thank you."
    PICK_A_RATING = "Please pick a number from 1 to 5."
    RATED = "Thank you for rating us {rating} out of 5."
    RATED_NOT_SOLVED = ("Sorry it isn't solved yet: say \"continue\" to keep going with me, or "
                        "\"talk to a person\" to ask CLOUDEX support again.")
    RATED_SOLVED = "Say \"start over\" any time to check another mailbox."
    STALE_FEEDBACK = "That button belongs to an earlier question."
    AGENT_NOT_DELIVERED = ("I could not deliver the request to the support channel. Please try "
                           "again later, or say \"talk to a person\" again.")
    # The feedback cards after a hand back.
    SOLVED_QUESTION = "Is your problem solved?"
    SOLVED_HINT = "{agent} has handed you back to me. You can also type yes or no."
    SOLVED_HINT_BY_SUPPORT = ("CLOUDEX support has handed you back to me. You can also type yes "
                              "or no.")
    YES_SOLVED = "Yes, solved"
    NO_NOT_YET = "No, not yet"
    RATE_QUESTION = "How would you rate the help you got?"
    RATE_HINT = "1 = poor, 5 = excellent. You can also type a number."
    # When support is back, as a person would say it (the time zone is named after it).
    WHEN_TODAY = "today at {clock}"
    WHEN_TOMORROW = "tomorrow at {clock}"
    WHEN_ON_DAY = ("on Monday at {clock}", "on Tuesday at {clock}", "on Wednesday at {clock}",
                   "on Thursday at {clock}", "on Friday at {clock}", "on Saturday at {clock}",
                   "on Sunday at {clock}")
    WHEN_ON_DATE = "on {date} at {clock}"
    IN_ZONE = "{when} ({zone} time)"
    # Support hours as on a door sign: "Mon-Fri 08:00-17:00".
    DAY_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# ----- to agents (English) -----------------------------------------------------------------------
STAFF_ONLY = "Only CLOUDEX support staff can do that."
STAFF_ONLY_CHANNEL = "Only CLOUDEX support staff can choose the support channel."
CHANNEL_SET = ("OK — customers who need a person will be posted in this channel, one thread each. "
               "Press **Take over** on a card to talk to the customer; type `queue` to see who is "
               "waiting.")
CHANNEL_PINNED = " Note: SUPPORT_CHANNEL_ID is set to {pinned}, so new requests still go there."
CHANNEL_HELLO = ("Hi, I'm the Mail Setup Assistant. I post customers who need a person here, one "
                 "thread each; press **Take over** on a card to talk to the customer from its "
                 "thread. Type `queue` to see who is waiting.")
TEAM_HELLO = ("Hi, I'm the Mail Setup Assistant. To make a channel of this team CLOUDEX's support "
              "channel, type `@Mail Setup Assistant use this channel for handoffs` there: I will "
              "post each customer who needs a person as a thread, with **Take over** on it. Type "
              "`queue` there to see who is waiting.")
CHANNEL_HELP = ("I post customers who need a person here, one thread each. Type `queue` to see who "
                "is waiting, or press **Take over** on a card.")
PRESS_TAKE_OVER = "Press **Take over** on the card first; until then the customer talks to me."
ENDED_NOT_PASSED = "This handoff has ended, so I did not pass that on."
ONLY_HOLDER = ("Only {agent}, who took this over, talks to the customer from this thread; I did "
               "not pass that on.")
ONLY_HOLDER_ENDS = "Only {agent}, who took this over, can hand it back."
TAKE_FROM_OFFER = "Press **Take it from {agent}** to talk to the customer yourself."
TAKEN_OVER = "{agent} has taken this over."
TAKEN_FROM_NOTE = "{agent} has taken this over from {previous}."
ALREADY_TAKEN = "Already taken by {agent}."
ALREADY_ENDED = "This handoff has already ended."
NO_SUCH_HANDOFF = "This handoff no longer exists."
HANDED_BACK_AGENT = "Handed back to the bot. Thank you!"
NOBODY_TOOK_IT = ("⏰ Nobody has taken this for {minutes} minutes; the customer was told we will "
                  "get back to them.")
WHILE_WAITING = "While waiting, {customer} wrote:\n\n{lines}"
CUSTOMER_PRESSED = "The customer pressed: {title}"
CUSTOMER_UNREACHABLE = ("⚠️ I could not deliver your message to the customer: they may have "
                        "removed the app or blocked it.")
NEEDS_A_PERSON = "{customer} needs a person"
A_CUSTOMER = "A customer"
AN_AGENT = "A CLOUDEX agent"

# What an old flow button said, for "The customer pressed: …" (the flow's button titles).
PRESSED_TITLES = {
    "fix_worked": "Yes, it works", "fix_failed": "No, still failing", "person": "Talk to a person",
    "start": "Start", "start_over": "Start over", "back": "Back", "help": "Help",
    "continue": "Continue", "overview": "Why Authenticated SMTP may be missing",
    "run_checks": "Check my tenant", "unsure": "I don't know", "show_fix": "Show the fix",
}

# ----- making someone's words inert -------------------------------------------------------------
# What CommonMark (and Teams' markdown) reads as markup anywhere in a line, escaped with a
# backslash: emphasis, code, links and images (their "[" is enough), HTML, strikethrough.
_MARKUP = re.compile(r"([\\`*_\[\]<>~])")
# ...and at the start of a line: headings, lists, quotes, setext underlines.
_LINE_START = re.compile(r"^(\s*)([-+>#=]|\d+[.)])")
_URL = re.compile(r"(?i)\b(?:https?|ftp|file|mailto|javascript|data|tel):[^\s<>`()\[\]{}\"']*"
                  r"|\bwww\.[^\s<>`()\[\]{}\"']+")
_SAFE_URL = re.compile(r"^https://[^\s<>`()\[\]{}\"'\\]+$")
_ENTITY = re.compile(r"&")


def inert(text: str) -> str:
    """``text`` as markdown that shows exactly these characters: no link, tag or emphasis.

    Web addresses become code spans (shown, never linked); every other markup
    character is backslash-escaped and ``&`` becomes ``&amp;``, so HTML and
    entities show as typed.
    """
    return "\n".join(_inert_line(line) for line in plain_text(text).split("\n"))


def _inert_line(line: str) -> str:
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(line):
        parts.append(_escape(line[last:match.start()]))
        parts.append("`" + match.group(0).replace("`", "") + "`")
        last = match.end()
    parts.append(_escape(line[last:]))
    escaped = "".join(parts)
    start = _LINE_START.match(escaped)
    if start is None:
        return escaped
    lead, marker = start.group(1), start.group(2)
    # "1." or "1)": escape the punctuation, not the number.
    marker = marker[:-1] + "\\" + marker[-1] if marker[0].isdigit() else "\\" + marker
    return lead + marker + escaped[start.end():]


def _escape(text: str) -> str:
    return _MARKUP.sub(r"\\\1", _ENTITY.sub("&amp;", text))


def name_of(text: str | None, fallback: str) -> str:
    """A display name fit to show in bold: one line, at most 80 characters, inert."""
    one_line = " ".join(plain_text(text or "").split())[:80]
    return inert(one_line) if one_line else fallback


def customer_says(customer_name: str, message: str) -> str:
    """A customer's message as the agents see it in the thread (name and words inert)."""
    return f"**{name_of(customer_name, 'Customer')}:** {inert(message)}"


def agent_says(agent_name: str, message: str, tr: Translator) -> str:
    """An agent's message as the customer sees it, under a header only the bot writes.

    The header is the agent's name, made inert (one line, markup escaped, so a
    name cannot close the bold or start a line of its own), and the support
    label in the customer's language — one fixed text per language, from the
    catalog. The agent's words follow as the agent wrote them, untranslated.
    """
    name = name_of(agent_name, tr(ToCustomer.AN_AGENT))
    return f"**{name} ({tr(ToCustomer.SUPPORT_NAME)}):** {message}"


def attachment_line(name: str, url: str) -> str | None:
    """A shared file as a link line (its name inert), or None unless the address is https."""
    url = url.strip()
    if not _SAFE_URL.match(url):
        return None
    return f"📎 [{name_of(name, 'attachment')}]({url})"


def queued(position: int | None, tr: Translator, *, channel_known: bool = True) -> str:
    """Tell the customer a person was asked, and their place in the queue."""
    place = tr.format(ToCustomer.QUEUE_PLACE, position=position) if position else ""
    return tr.format(ToCustomer.QUEUED if channel_known else ToCustomer.QUEUED_NO_CHANNEL,
                     place=place)


def already_queued(position: int | None, tr: Translator) -> str:
    """Answer a repeated request while the first one is still waiting."""
    place = tr.format(ToCustomer.QUEUE_PLACE, position=position) if position else ""
    return tr.format(ToCustomer.ALREADY_QUEUED, place=place)


def timeout(when: str | None, tr: Translator) -> str:
    """Nobody took the ticket in time: reassure the customer and say when."""
    if when:
        return tr.format(ToCustomer.BUSY_BACK_BY, when=when)
    return tr(ToCustomer.BUSY_BACK_SOON)


def rated(solved: bool | None, rating: int, tr: Translator) -> str:
    """Close the feedback round."""
    then = ToCustomer.RATED_NOT_SOLVED if solved is False else ToCustomer.RATED_SOLVED
    return f"{tr.format(ToCustomer.RATED, rating=rating)} {tr(then)}"


def when(moment: datetime, now: datetime, zone: ZoneInfo, tr: Translator) -> str:
    """Say when ``moment`` is, relative to ``now``, the way a person would, in ``tr``'s language.

    Args:
        moment: The aware time to describe.
        now: The current aware time.
        zone: The support time zone (named in the text by its IANA name).
        tr: The customer's translator.

    Returns:
        For example ``today at 17:00``, ``tomorrow at 08:00`` or ``on Monday
        at 08:00`` followed by the zone, e.g. ``(Europe/Riga time)``.
    """
    local = moment.astimezone(zone)
    today = now.astimezone(zone).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        day = tr.format(ToCustomer.WHEN_TODAY, clock=clock)
    elif local.date() == today + timedelta(days=1):
        day = tr.format(ToCustomer.WHEN_TOMORROW, clock=clock)
    elif local.date() < today + timedelta(days=7):
        day = tr.format(ToCustomer.WHEN_ON_DAY[local.weekday()], clock=clock)
    else:
        day = tr.format(ToCustomer.WHEN_ON_DATE, date=local.date().isoformat(), clock=clock)
    return tr.format(ToCustomer.IN_ZONE, when=day, zone=zone.key)


def hours_text(hours: SupportHours, tr: Translator) -> str:
    """Support hours as on a door sign, in ``tr``'s language: ``Mon-Fri 08:00-17:00 Europe/Riga``.

    Drawn from the parsed windows rather than repeating ``SUPPORT_HOURS`` as
    typed, so the day names are the customer's: days with the same hours are
    one group, consecutive days one range (``Fri-Mon`` over a weekend too).
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for window in hours.windows:
        days = groups.setdefault((window.start.strftime("%H:%M"), window.end.strftime("%H:%M")),
                                 [])
        if window.weekday not in days:
            days.append(window.weekday)
    parts = [f"{_day_ranges(days, tr)} {start}-{end}" for (start, end), days in groups.items()]
    return f"{'; '.join(parts)} {hours.zone.key}"


def _day_ranges(days: list[int], tr: Translator) -> str:
    """Weekdays (0 = Monday) as ranges of consecutive days: ``Mon-Wed, Fri``."""
    chosen = set(days)
    if len(chosen) == 7:
        return f"{tr(ToCustomer.DAY_SHORT[0])}-{tr(ToCustomer.DAY_SHORT[6])}"
    # Start each range at a chosen day whose day before is not chosen (the week wraps).
    ranges = []
    for first in sorted(chosen, key=lambda day: days.index(day)):
        if (first - 1) % 7 in chosen:
            continue
        last = first
        while (last + 1) % 7 in chosen:
            last = (last + 1) % 7
        name = tr(ToCustomer.DAY_SHORT[first])
        ranges.append(name if last == first else f"{name}-{tr(ToCustomer.DAY_SHORT[last])}")
    return ", ".join(ranges)
