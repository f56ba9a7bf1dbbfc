"""Validate cards against the official Adaptive Card 1.5 schema; Teams extensions allowed by name.

The schema is strict, so Teams-only parts fail it as they are. Exactly two
are allowed, and each is checked on its own before it is taken out: the
top-level ``msteams`` object (only ``width: Full`` and ``entities``) and the
``CodeBlock`` element (its known fields, a PowerShell/PlainText language, and a
``fallback`` that must itself be a valid element). Anything else that the
schema does not know fails.

Validation is fast enough to run on every card a conversation test sees: a
card is first checked by a compiled validator (fastjsonschema), and only a
card it rejects goes through ``jsonschema`` for readable messages, whose
verdict is final. Results are remembered per distinct card.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft6Validator

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "adaptive-card-1.5.schema.json"
MAX_CARD_BYTES = 28 * 1024
_CODEBLOCK_FIELDS = {"type", "codeSnippet", "language", "startLineNumber", "fallback", "id",
                     "spacing", "separator", "isVisible", "requires", "height"}
_CODEBLOCK_LANGUAGES = {"PowerShell", "PlainText", "Bash", "Json"}
_MSTEAMS_FIELDS = {"width", "entities"}


@functools.cache
def _validator() -> Draft6Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft6Validator(schema)


@functools.cache
def _compiled() -> Any:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema)


def _schema_errors(stripped: dict[str, Any]) -> list[str]:
    try:
        _compiled()(stripped)
        return []
    except fastjsonschema.JsonSchemaException:
        pass  # rejected by the quick check: let the reference validator say what is wrong
    errors = []
    for error in _validator().iter_errors(stripped):
        location = "/".join(str(p) for p in error.absolute_path)
        errors.append(f"{location}: {error.message[:300]}")
    return errors


def _strip_teams(node: Any, errors: list[str], path: str) -> Any:
    if isinstance(node, list):
        return [_strip_teams(item, errors, f"{path}[{i}]") for i, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "CodeBlock":
        unknown = set(node) - _CODEBLOCK_FIELDS
        if unknown:
            errors.append(f"{path}: CodeBlock has unknown fields {sorted(unknown)}")
        if not isinstance(node.get("codeSnippet"), str) or not node["codeSnippet"]:
            errors.append(f"{path}: CodeBlock needs a codeSnippet")
        if node.get("language") not in _CODEBLOCK_LANGUAGES:
            errors.append(f"{path}: CodeBlock language {node.get('language')!r} not allowed")
        fallback = node.get("fallback")
        if not isinstance(fallback, dict):
            errors.append(f"{path}: CodeBlock needs a fallback element for non-Teams clients")
            return {"type": "TextBlock", "text": "missing fallback"}
        return _strip_teams(fallback, errors, f"{path}.fallback")
    result = {}
    for key, value in node.items():
        if key == "msteams" and node.get("type") == "AdaptiveCard":
            if not isinstance(value, dict) or set(value) - _MSTEAMS_FIELDS:
                errors.append(f"{path}.msteams: only {sorted(_MSTEAMS_FIELDS)} are allowed")
            elif "width" in value and value["width"] != "Full":
                errors.append(f"{path}.msteams.width must be 'Full'")
            continue
        result[key] = _strip_teams(value, errors, f"{path}.{key}")
    return result


def card_errors(card: dict[str, Any]) -> list[str]:
    """Return every problem with ``card``; an empty list means it is valid."""
    return list(_card_errors(json.dumps(card, ensure_ascii=False, sort_keys=True)))


@functools.lru_cache(maxsize=4096)
def _card_errors(serialized: str) -> tuple[str, ...]:
    card = json.loads(serialized)
    errors: list[str] = []
    size = len(serialized.encode("utf-8"))
    if size > MAX_CARD_BYTES:
        errors.append(f"card is {size} bytes, over the {MAX_CARD_BYTES} byte limit")
    if not isinstance(card, dict):
        return (*errors, "a card must be a JSON object")
    if card.get("version") != "1.5":
        errors.append(f"card version must be 1.5, got {card.get('version')!r}")
    stripped = _strip_teams(copy.deepcopy(card), errors, "$")
    errors.extend(_schema_errors(stripped))
    return tuple(errors)


def dict_nodes(tree: Any) -> list[dict[str, Any]]:
    """Every dict in a JSON tree (a card, say), each before what it holds, in document order."""
    nodes: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            nodes.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(tree)
    return nodes


def cards_in(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the Adaptive Cards attached to an activity body."""
    return [a["content"] for a in activity.get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]


# ----- what a customer reads before pressing anything -----------------------------------
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HAS_WORD = re.compile(r"\w")


def words_in(text: str) -> int:
    """Words in a text as shown: a markdown link counts by its text, not its URL."""
    return sum(1 for token in _LINK.sub(r"\1", text).split() if _HAS_WORD.search(token))


def visible_words(node: Any) -> int:
    """Count the words a card shows before anything is pressed.

    Everything counts except what is hidden: an element with ``isVisible: false``
    (and all inside it), the card inside an ``Action.ShowCard``, and a
    ``fallback`` (shown only instead of its element). Buttons count by their
    titles, overflow ("secondary") ones too; PowerShell counts by its words.
    """
    if isinstance(node, list):
        return sum(visible_words(item) for item in node)
    if not isinstance(node, dict) or node.get("isVisible") is False:
        return 0
    kind = str(node.get("type", ""))
    if kind in ("TextBlock", "TextRun"):
        return words_in(str(node.get("text", "")))
    if kind == "CodeBlock":
        return words_in(str(node.get("codeSnippet", "")))
    if kind == "FactSet":
        return sum(words_in(str(f.get("title", ""))) + words_in(str(f.get("value", "")))
                   for f in node.get("facts", []))
    if kind.startswith("Input."):
        shown = node.get("value") or node.get("placeholder") or ""
        return (words_in(str(node.get("label", ""))) + words_in(str(shown))
                + sum(words_in(str(c.get("title", ""))) for c in node.get("choices", [])))
    count = words_in(str(node.get("title", ""))) if kind.startswith("Action.") else 0
    if kind == "Action.ShowCard":
        return count
    return count + sum(visible_words(value) for key, value in node.items()
                       if key not in ("fallback", "selectAction", "msteams", "data"))
