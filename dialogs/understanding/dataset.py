"""The labeled utterances: ``data/{train,heldout,fresh}/{en,lv,ru}.txt`` (format: README.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
LANGUAGES = ("en", "lv", "ru")
SPLITS = ("train", "heldout", "fresh")


@dataclass(frozen=True)
class Row:
    """One labeled utterance.

    Attributes:
        lang: the language it is written in (its file's).
        context: ``-``, a question id, ``fix`` or ``summary``.
        intent: the coarse intent (``question``, ``answer`` …).
        kind: a question's kind (``where`` …) or "".
        topic: a question's topic (an id of the knowledge's answers) or "".
        facts: fact -> value, every fact the text states (``lang``/``change`` included).
        text: what the customer typed.
        source: ``file:line`` for messages about the row.
    """

    lang: str
    context: str
    intent: str
    kind: str
    topic: str
    facts: Mapping[str, str]
    text: str
    source: str

    @property
    def question(self) -> str | None:
        """The question the bot was asking, or None."""
        return None if self.context in {"-", "fix", "summary"} else self.context

    @property
    def stated(self) -> dict[str, str]:
        """The facts to store (without a language choice or an answer to change)."""
        return {k: v for k, v in self.facts.items() if k not in {"lang", "change"}}


def parse(path: Path, lang: str) -> list[Row]:
    """Read one data file."""
    rows = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts = [part.strip() for part in raw.split(" | ", 3)]
        if len(parts) != 4:
            raise ValueError(f"{path.name}:{number}: expected 'context | intent | facts | text'")
        context, label, facts, text = parts
        intent, _, rest = label.partition(":")
        kind, _, topic = rest.partition(":")
        pairs: dict[str, str] = {}
        if facts != "-":
            for item in facts.split(","):
                name, _, value = item.partition("=")
                pairs[name.strip()] = value.strip()
        rows.append(Row(lang, context, intent, kind, topic, pairs, text, f"{path.name}:{number}"))
    return rows


def load(split: str, data_dir: Path = DATA_DIR) -> list[Row]:
    """Every row of one split (``train``, ``heldout`` or ``fresh``), all languages."""
    rows: list[Row] = []
    for lang in LANGUAGES:
        path = data_dir / split / f"{lang}.txt"
        if path.exists():
            rows.extend(parse(path, lang))
    return rows


def fingerprint(split: str = "train", data_dir: Path = DATA_DIR) -> str:
    """A hash of a split's files: a model trained on other data is stale."""
    digest = hashlib.sha256()
    for lang in LANGUAGES:
        path = data_dir / split / f"{lang}.txt"
        if path.exists():
            digest.update(lang.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
