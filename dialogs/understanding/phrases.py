"""English phrase rules that ask one narrow question of a text, kept from before the layer.

The understanding layer (:mod:`dialogs.understanding.reader`) reads every
message in the three languages. These helpers remain for the places that ask
something narrower of the text itself: which words of a question tell knowledge
topics apart (for the knowledge search), whether a question is about the
PowerShell of the fix on the screen or about when it starts working, and which
option of an ambiguous error's follow-up question a reply names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from dialogs.text import normalise

# Words every topic shares — the product, the service, sending itself — so a question
# that matches a topic only on them asks about none of them: "does this work with
# GoDaddy 365?" is not about shared mailboxes because that topic's title says "work".
_GENERIC_WORDS = frozenset({
    "work", "works", "working", "worked", "365", "microsoft", "office", "o365", "m365",
    "use", "uses", "using", "used", "cloudex", "tms", "email", "emails", "e-mail", "e-mails",
    "mail", "mails", "send", "sends", "sending", "sent", "problem", "problems", "issue",
    "issues", "help", "from",
})
_EDGE_PUNCTUATION = "?!.,;:'\"()[]“”‘’"
# "how long until it works?", "when will it take effect?", "does it work now?": a
# question about when the fix on the screen starts working (not "does oauth work with
# MFA?", which asks about a topic).
_WHEN_IT_WORKS = re.compile(
    r"(?<!\w)(?:how long|how soon|how much time|how many (?:minutes|hours|days)|"
    r"when (?:will|does|should|can) (?:it|this|that|the change|the fix|sending|mail)|"
    r"wait|waiting|take effect|takes effect|"
    r"(?:does|will|should|would|is|has) (?:it|this|that|sending|mail) "
    r"(?:work|working|fixed|solved|resolved))(?!\w)")
_POWERSHELL_WORDS = frozenset({"powershell", "cmdlet", "cmdlets", "command", "commands",
                               "script", "ps1", "ps"})


def topic_words(text: str) -> str:
    """The words of a question that can tell topics apart: ``text`` minus generic words.

    Codes and addresses stay as typed ("5.7.139", "smtp-legacy.office365.com").
    """
    kept = [word for word in text.split()
            if word.strip(_EDGE_PUNCTUATION).lower() not in _GENERIC_WORDS]
    return " ".join(kept)


def asks_when_it_works(text: str) -> bool:
    """True when a message asks when the fix starts working: "how long until it works?"."""
    return _WHEN_IT_WORKS.search(normalise(text)) is not None


def asks_for_powershell(text: str) -> bool:
    """True when a message mentions PowerShell or a command to run ("what do I run in ps?")."""
    return any(word in _POWERSHELL_WORDS for word in normalise(text).split())


@functools.lru_cache(maxsize=1024)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    # A follow-up question's option words are a fixed, small set: compile each once.
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)")


def match_follow_up(text: str, follow_up: Mapping[str, Any]) -> str | None:
    """Map a typed answer to one of a follow-up question's options (label or cause id)."""
    said = normalise(text)
    options = follow_up.get("options", [])
    for label, cause_id in options:
        label_norm = normalise(str(label))
        if said in (label_norm, normalise(str(cause_id))):
            return str(cause_id)
    for label, cause_id in options:
        words = [w for w in normalise(str(label)).split() if len(w) > 3]
        if words and any(_phrase_pattern(word).search(said) for word in words):
            return str(cause_id)
    return None
