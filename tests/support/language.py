"""Reading a text for its language: what stays English in every language, and English left over.

A translation keeps technical text verbatim (URLs, cmdlets and parameters,
error codes, host names, Microsoft's quoted labels and product names); any
English function word outside those is a sentence left in English.
"""

from __future__ import annotations

import re
from typing import Any

TECHNICAL = re.compile(
    r"https?://\S+?(?=[)\s,]|\.(?:\s|$)|$)"           # URLs
    r"|\b[A-Z][a-z]+-[A-Z][A-Za-z]+\b"                 # cmdlets: Set-CASMailbox
    r"|(?<![\w-])-[A-Z][A-Za-z]+\b"                     # parameters: -Identity
    r"|\$[A-Za-z]+"                                     # $false, $null
    r"|\b[245]\.\d{1,3}\.\d{1,3}\b"                     # enhanced status codes: 5.7.139
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|lv)\b"     # host names: smtp.office365.com
    r"|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b"                   # constants: EXCHANGE_S_FOUNDATION
    r"|\b(?:AADSTS)?\d{5,}\b")                          # error numbers: 50076, 7000222
QUOTED = re.compile(r"(?<!\w)'([^'\n]+?)'(?!\w)")
ENGLISH_WORDS = re.compile(r"\b(?:the|and|you|your|is|are|with|for|this|that|of|not)\b")
KEPT_NAMES = re.compile(r"Microsoft[ \w]*|Exchange[ \w]*|CLOUDEX TMS|Authenticated SMTP|SMTP AUTH"
                        r"|Business \w+|Send as|Full Access|Direct Send|Sign in with Microsoft"
                        r"|client ID / secret|High Volume Email|Azure Communication Services Email")


def english_words_left(text: str, labels: frozenset[str] = frozenset()) -> list[str]:
    """English function words outside what stays English (code, quotes, labels, names)."""
    text = re.sub(r"<[^<>]*>", " ", QUOTED.sub(" ", TECHNICAL.sub(" ", text)))
    for label in sorted(labels, key=len, reverse=True):
        text = text.replace(label, " ")
    return ENGLISH_WORDS.findall(KEPT_NAMES.sub(" ", text))



OTHER_SCRIPTS = {"en": "[āčēģīķļņšūžа-яё]", "lv": "[а-яё]", "ru": "[āčēģīķļņšūž]"}
# What stays as it came: quoted text (Microsoft's error, the customer's own words), links.
_AS_IT_CAME = re.compile(r"“[^”]*”|„[^”]*”|«[^»]*»|\[[^\]]*\]\([^)]*\)")


def customer_lines(activity: dict[str, Any], english_copy: str = "In English:") -> list[str]:
    """Every text of a bot message its reader sees (hidden detail too), one per element.

    Left out, because they stay as they are in every language: PowerShell (a ``CodeBlock``
    and its monospace fallback), what a service answered (monospace), the English copy of
    the text for the IT provider (after ``english_copy``), and the language buttons (each
    language named in itself).
    """
    lines = [str(activity.get("text") or "")]
    for attachment in activity.get("attachments") or []:
        content = attachment.get("content")
        if not isinstance(content, dict):
            continue
        skip: set[int] = set()
        for node in _nodes(content):
            shown = node.get("card", {}) if node.get("type") == "Action.ShowCard" else {}
            copied = False
            for block in shown.get("body") or []:
                copied = copied or (isinstance(block, dict)
                                    and block.get("text") == english_copy)
                if copied:
                    skip.add(id(block))
        for node in _nodes(content):
            if (id(node) in skip or node.get("fontType") == "Monospace"
                    or node.get("type") == "CodeBlock"
                    or (isinstance(node.get("data"), dict)
                        and node["data"].get("msa") == "set_language")):
                continue
            for key in ("text", "title", "label", "errorMessage"):
                if isinstance(node.get(key), str):
                    lines.append(node[key])
            for fact in node.get("facts") or []:
                lines += [str(fact.get("title", "")), str(fact.get("value", ""))]
    return [line for line in lines if line.strip()]


def leftovers(activities: list[dict[str, Any]], lang: str,
              labels: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Lines the customer reads in another language than ``lang``: text -> the words that tell.

    For Latvian and Russian, English function words outside what stays English
    (:func:`english_words_left`) and the other language's letters; for English,
    Latvian or Russian letters.
    """
    from dialogs import messages
    from dialogs.i18n import translator

    found: dict[str, list[str]] = {}
    # How to choose a language, each named in itself ("latviski · по-русски · in English").
    choosing = {translator(lang)(command) for command, _ in messages.HELP_COMMANDS
                if "latviski" in command}
    for activity in activities:
        for line in customer_lines(activity, translator(lang)(messages.IN_ENGLISH)):
            if line in choosing:
                continue
            bare = _AS_IT_CAME.sub(" ", line)
            words = english_words_left(bare, labels) if lang != "en" else []
            other = re.findall(OTHER_SCRIPTS[lang], QUOTED.sub(" ", bare), re.IGNORECASE)
            if words or other:
                found[line] = words + other
    return found


def _nodes(tree: Any) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            nodes.append(node)
            for key, value in node.items():
                if key != "fallback":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(tree)
    return nodes
