"""Reading a text for its language: what stays English in every language, and English left over.

A translation keeps technical text verbatim (URLs, cmdlets and parameters,
error codes, host names, Microsoft's quoted labels and product names); any
English function word outside those is a sentence left in English.
"""

from __future__ import annotations

import re

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

