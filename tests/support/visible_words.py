"""Count the words an Adaptive Card shows before anyone taps anything (issue 19's budgets).

Hidden detail does not count: anything inside an element with
``isVisible: false`` (shown by ``Action.ToggleVisibility``), inside an
``Action.ShowCard``'s card, or in a ``fallback``. Everything else a person
sees counts: text blocks (markdown links count their label, not their URL),
fact titles and values, input labels and their value (or placeholder when
empty), code, and button titles.
"""

from __future__ import annotations

import re
from typing import Any

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_WORD = re.compile(r"\w", re.UNICODE)


def _words(text: str) -> int:
    text = _LINK.sub(r"\1", text).replace("**", " ")
    return sum(1 for token in text.split() if _WORD.search(token))


def _element(node: dict[str, Any]) -> int:
    if node.get("isVisible") is False:
        return 0
    kind = node.get("type")
    count = 0
    if kind == "TextBlock":
        count += _words(str(node.get("text", "")))
    elif kind == "RichTextBlock":
        count += sum(_words(str(i.get("text", ""))) for i in node.get("inlines") or []
                     if isinstance(i, dict))
    elif kind == "FactSet":
        for fact in node.get("facts") or []:
            count += _words(str(fact.get("title", ""))) + _words(str(fact.get("value", "")))
    elif kind == "CodeBlock":
        count += _words(str(node.get("codeSnippet", "")))
    elif isinstance(kind, str) and kind.startswith("Input."):
        count += _words(str(node.get("label", "")))
        shown = node.get("value") or node.get("placeholder") or ""
        count += _words(str(shown))
    elif kind == "ActionSet":
        count += _actions(node.get("actions") or [])
    for key in ("items", "columns", "body"):
        for child in node.get(key) or []:
            if isinstance(child, dict):
                count += _element(child)
    return count


def _actions(actions: list[dict[str, Any]]) -> int:
    # A ShowCard's title is a visible button; its card is not shown until pressed.
    return sum(_words(str(a.get("title", ""))) for a in actions if isinstance(a, dict))


def visible_words(card: dict[str, Any]) -> int:
    """How many words the card shows by default.

    Args:
        card: An Adaptive Card.

    Returns:
        The count.
    """
    body = sum(_element(e) for e in card.get("body") or [] if isinstance(e, dict))
    return body + _actions(card.get("actions") or [])
