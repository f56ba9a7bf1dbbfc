"""Every sentence of the human handoff, in one place, and how someone's own words are made inert.

Customer-facing sentences are named constants (English for now; they move
into the translation catalogs with the rest of the bot's sentences). Agents
see English, and the customer's own words as written but escaped: markdown
and HTML show as the characters they are, links as text, and nothing a
customer types can look like a line the bot or an agent wrote.
"""

from __future__ import annotations

import re
import unicodedata

SUPPORT_NAME = "CLOUDEX support"

# ----- to the customer ---------------------------------------------------------------------------
QUEUED = ("I've asked a person from CLOUDEX support to join.{place} They will see your answers so "
          "far, so you won't have to repeat anything. Until they join, I'm still here.")
QUEUED_NO_CHANNEL = ("I've passed your request to CLOUDEX support.{place} Everything you told me "
                     "goes with it, so you won't have to repeat anything.")
QUEUE_PLACE = " You are number {position} in the queue."
ALREADY_QUEUED = "You're already waiting for a person from CLOUDEX support.{place}"
ADDED_TO_REQUEST = "Added to your request — the agent will see it."
JOINED = "**{agent}** from CLOUDEX support has joined. Type your messages here as usual."
TAKEN_FROM = "**{agent}** from CLOUDEX support is taking over from {previous}."
TYPE_YOUR_MESSAGE = ("{agent} from CLOUDEX support has your conversation now; please type your "
                     "message.")
PASSWORD_NOT_PASSED = "I did not pass it on."
NOT_PASSED_ON = ("⚠️ I could not pass that message on just now. Please send it again in a "
                 "minute.")
HANDED_BACK = "{agent} has handed the conversation back to me, the Mail Setup Assistant."
AFTER_HOURS = ("CLOUDEX support is not staffed right now (our hours: {hours}). Your request is in "
               "the queue and a person will get back to you here {when}.")
TIMEOUT = ("Everyone at CLOUDEX support is busy right now, sorry for the wait. Your request stays "
           "in the queue and a person will get back to you here{later}. Meanwhile you can keep "
           "going with me.")
TIMEOUT_AT_LATEST = " at the latest {when}"
TIMEOUT_WHEN_FREE = " as soon as someone is free"
HUB_CONNECTING = ("I'm connecting you with a person from CLOUDEX support. They will see your "
                  "answers so far.")
HUB_FAILED = ("Sorry, I couldn't reach a person from CLOUDEX support{reason}. You can keep going "
              "with me, or say \"talk to a person\" to try again.")
GLAD = "Glad to hear it!"
SORRY_NOT_SOLVED = "Sorry it isn't solved yet."
NOTED = "Noted, thank you."
PICK_A_RATING = "Please pick a number from 1 to 5."
RATED = "Thank you for rating us {rating} out of 5."
RATED_NOT_SOLVED = (" Sorry it isn't solved yet: say \"continue\" to keep going with me, or "
                    "\"talk to a person\" to ask CLOUDEX support again.")
RATED_SOLVED = " Say \"start over\" any time to check another mailbox."
STALE_FEEDBACK = "That button belongs to an earlier question."
AGENT_UNREACHABLE_CUSTOMER = ("I could not pass your message on to CLOUDEX support just now; "
                              "it is kept with your request, and the agent will see it.")
AGENT_NOT_DELIVERED = ("I could not deliver the request to the support channel. Please try again "
                       "later, or say \"talk to a person\" again.")

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
_INVISIBLE = {"Cc", "Cf", "Co", "Cn"}


def plain(text: str) -> str:
    """Drop control and format characters (zero-width, bidi overrides), keeping line breaks."""
    return "".join(ch for ch in text
                   if ch in "\n\t" or unicodedata.category(ch) not in _INVISIBLE)


def inert(text: str) -> str:
    """``text`` as markdown that shows exactly these characters: no link, tag or emphasis.

    Web addresses become code spans (shown, never linked); every other markup
    character is backslash-escaped and ``&`` becomes ``&amp;``, so HTML and
    entities show as typed.
    """
    return "\n".join(_inert_line(line) for line in plain(text).split("\n"))


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
    if marker[0].isdigit():  # "1." or "1)": escape the punctuation, not the number
        marker = marker[:-1] + "\\" + marker[-1]
    else:
        marker = "\\" + marker
    return lead + marker + escaped[start.end():]


def _escape(text: str) -> str:
    return _MARKUP.sub(r"\\\1", _ENTITY.sub("&amp;", text))


def name_of(text: str | None, fallback: str) -> str:
    """A display name fit to show in bold: one line, at most 80 characters, inert."""
    one_line = " ".join(plain(text or "").split())[:80]
    return inert(one_line) if one_line else fallback


def customer_says(customer_name: str, message: str) -> str:
    """A customer's message as the agents see it in the thread (name and words inert)."""
    return f"**{name_of(customer_name, 'Customer')}:** {inert(message)}"


def agent_says(agent_name: str, message: str) -> str:
    """An agent's message as the customer sees it: the name inert, the words as the agent wrote."""
    return f"**{name_of(agent_name, AN_AGENT)} ({SUPPORT_NAME}):** {message}"


def attachment_line(name: str, url: str) -> str | None:
    """A shared file as a link line (its name inert), or None unless the address is https."""
    url = url.strip()
    if not _SAFE_URL.match(url):
        return None
    return f"📎 [{name_of(name, 'attachment')}]({url})"


def queued(position: int | None, *, channel_known: bool = True) -> str:
    """Tell the customer a person was asked, and their place in the queue."""
    place = QUEUE_PLACE.format(position=position) if position else ""
    return (QUEUED if channel_known else QUEUED_NO_CHANNEL).format(place=place)


def already_queued(position: int | None) -> str:
    """Answer a repeated request while the first one is still waiting."""
    return ALREADY_QUEUED.format(place=QUEUE_PLACE.format(position=position) if position else "")


def timeout(when: str | None) -> str:
    """Nobody took the ticket in time: reassure the customer and say when."""
    later = TIMEOUT_AT_LATEST.format(when=when) if when else TIMEOUT_WHEN_FREE
    return TIMEOUT.format(later=later)


def rated(solved: bool | None, rating: int) -> str:
    """Close the feedback round."""
    return RATED.format(rating=rating) + (RATED_NOT_SOLVED if solved is False else RATED_SOLVED)
