"""Teams-shaped activities built from the recorded payloads in tests/fixtures/activities."""

from __future__ import annotations

import copy
import functools
import itertools
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "activities"
_ids = itertools.count(1)


@functools.cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def activity(
    name: str,
    *,
    service_url: str,
    conversation_id: str,
    text: str | None = None,
    value: Any = None,
    user_id: str | None = None,
    user_name: str | None = None,
    tenant_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Return a copy of fixture ``name`` addressed to ``conversation_id`` at ``service_url``."""
    body = copy.deepcopy(_load(name))
    body["serviceUrl"] = service_url
    body["conversation"]["id"] = conversation_id
    body["id"] = f"{body.get('id', 'act')}-{next(_ids)}"
    if text is not None:
        body["text"] = text
    if value is not None:
        if body["type"] == "invoke":
            body["value"]["action"]["data"] = value
            body["value"]["action"]["verb"] = value.get("msa", "")
        else:
            body["value"] = value
            body["text"] = ""
    if user_id is not None:
        body["from"]["id"] = user_id
    if user_name is not None:
        body["from"]["name"] = user_name
    if tenant_id is not None:
        body["conversation"]["tenantId"] = tenant_id
        body.setdefault("channelData", {})["tenant"] = {"id": tenant_id}
    body.update(overrides)
    return body
