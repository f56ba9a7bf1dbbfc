"""Which turns are about the live checks: the buttons' verbs and the typed ways to ask for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialogs.powershell import InvalidIdentity, validate_identity
from dialogs.text import normalise

#: The ``msa`` verbs of the live-check buttons (docs/contracts.md, "Card actions").
RUN_CHECKS = "run_checks"
SIGN_IN = "checks_sign_in"

# Whole-message phrases that ask for a live check (typed instead of pressing the button).
_PHRASES = frozenset(
    normalise(phrase)
    for phrase in (
        "check my tenant", "check tenant", "check my tenant please", "please check my tenant",
        "run checks", "run the checks", "run check", "run live checks", "live check",
        "live checks", "re-run checks", "rerun checks", "run checks again",
        "check again", "check my settings", "check my setup", "check my microsoft 365",
        "check my m365", "run_checks",
    )
)

# Longer typed text is no request for the checks, whatever its spacing: every phrase
# above is under 30 characters (a pasted error is not read for them at all).
_LONGEST_ASKING = 200


def wants_live_checks(text: str, action: Mapping[str, Any] | None = None) -> bool:
    """Tell whether a turn asks for the live checks (button or typed words).

    Args:
        text: What the customer typed.
        action: A pressed button's data, if any.

    Returns:
        True for the "Check my tenant" / "Re-run checks" buttons and their typed forms.
    """
    if isinstance(action, Mapping) and action.get("msa") == RUN_CHECKS:
        return True
    if not text or len(text) > _LONGEST_ASKING:
        return False  # a pasted error or a story, not a request in a few words
    said = normalise(text)
    return bool(said) and len(said) <= 60 and said in _PHRASES


def typed_mailbox(value: object) -> str | None:
    """The mailbox address typed into the consent card, or None when it is not one.

    Args:
        value: The card field's value (may carry "mailto:" or angle brackets).

    Returns:
        The address, or None.
    """
    candidate = str(value or "").strip().strip("<>").strip()
    if candidate.lower().startswith("mailto:"):
        candidate = candidate[len("mailto:"):]
    try:
        return validate_identity(candidate)
    except InvalidIdentity:
        return None
