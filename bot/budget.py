"""A turn's time budget: Teams waits 15 s for the bot's answer, so every turn finishes inside 10.

The HTTP handler starts the clock when a request arrives; store retries and
connector calls made inside the turn read what is left, and what would take
longer continues after the answer (the reply's send in the background, a
relay from the outbox). Whatever does not read the clock (a store statement
that hangs), the HTTP answer still goes out within ``ANSWER_WITHIN_SECONDS``.
Outside a turn (a background sweep, the outbox worker) there is no deadline
and callers use their own.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

TURN_BUDGET_SECONDS = 10.0
# Whatever a turn still waits for (a store that stopped answering holds a statement for
# its own 30 s), Teams gets an answer by then: 503 if the turn is not done, so it
# delivers the activity again; the turn itself goes on and is not cut off mid-write.
ANSWER_WITHIN_SECONDS = 12.0
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "msa_turn_deadline", default=None)


class turn_budget:  # noqa: N801 - used as a function: ``with turn_budget(): …``
    """Run the enclosed turn with a deadline ``seconds`` from now (on the loop's clock).

    A class rather than ``@contextmanager``: it wraps every turn, and a
    generator-based context manager costs several times as much to enter and leave.
    """

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float = TURN_BUDGET_SECONDS) -> None:
        """Prepare a budget of ``seconds``; the clock starts on entering."""
        self._seconds = seconds
        self._token: contextvars.Token[float | None] | None = None

    def __enter__(self) -> float:
        """Start the clock; return the deadline."""
        deadline = asyncio.get_running_loop().time() + self._seconds
        self._token = _DEADLINE.set(deadline)
        return deadline

    def __exit__(self, *exc_info: object) -> None:
        """End the budget (an enclosing turn's, if any, applies again)."""
        if self._token is not None:
            _DEADLINE.reset(self._token)
            self._token = None


def remaining(default: float) -> float:
    """Seconds left in the current turn, or ``default`` outside a turn (never below 0)."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return default
    return max(0.0, deadline - asyncio.get_running_loop().time())


def in_turn() -> bool:
    """True inside a turn that has a deadline."""
    return _DEADLINE.get() is not None


async def done_or_timeout(task: asyncio.Future[Any], seconds: float) -> None:
    """Wait until ``task`` is done or ``seconds`` passed, whichever is first; never cancels it.

    ``asyncio.wait({task}, timeout=seconds)`` without its sets and second
    future: three times a turn (the answer to Teams, the reply, the outbox),
    where its cost showed.
    """
    if task.done():
        return
    loop = asyncio.get_running_loop()
    woken = loop.create_future()

    def wake(_: object = None) -> None:
        if not woken.done():
            woken.set_result(None)

    # call_at rather than call_later: the same timer, one Python call fewer (a turn has two).
    timer = loop.call_at(loop.time() + seconds, wake)
    task.add_done_callback(wake)
    try:
        await woken
    finally:
        timer.cancel()
        task.remove_done_callback(wake)
