"""Structured JSON logs: one object per line, carrying the conversation id.

Message bodies are never logged at INFO; anything that looks like a bearer
token or secret is masked before a record is written, whatever its level.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# JWTs, "Bearer …" values and client secrets must never reach a log line.
_SECRETS = re.compile(
    r"(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"
    r"|((?i:bearer)\s+[A-Za-z0-9._~+/=-]{12,})"
    r"|((?i:client_secret|password|app_password)[\"']?\s*[:=]\s*[\"']?[^\s\"',}]{4,})"
)


# Every match contains one of these (lower-cased). Checking for them first is a
# tenth of the pattern's cost, and almost no log line contains any.
_HINTS = ("eyj", "bearer", "secret", "password")


def mask_secrets(text: str) -> str:
    """Replace tokens and secrets in ``text`` with a marker."""
    # Only for ASCII text: case-insensitive matching of other text also matches
    # look-alikes such as "ſ" for "s", which a lower-cased substring test would miss.
    if text.isascii():
        lowered = text.lower()
        if not any(hint in lowered for hint in _HINTS):
            return text
    return _SECRETS.sub("[redacted]", text)


class JsonFormatter(logging.Formatter):
    """Format records as JSON with their ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one JSON line."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return mask_secrets(json.dumps(entry, default=str, ensure_ascii=False))


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Send every logger's records to ``stream`` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    # On the handler too: a library that sets its own logger to DEBUG (bm25s does)
    # must not bring DEBUG records, which may carry message text, into INFO logs.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log repeats every request, and transitions logs each state
    # callback at INFO (2-3 lines a turn, most of the log's volume and CPU):
    # keep both at WARNING unless debugging.
    quiet = "WARNING" if level != "DEBUG" else "DEBUG"
    logging.getLogger("aiohttp.access").setLevel(quiet)
    logging.getLogger("transitions").setLevel(quiet)
