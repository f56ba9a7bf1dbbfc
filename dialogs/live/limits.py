"""At most N live-check runs per user per sliding hour, across every instance of the bot.

The run times live behind a :class:`~dialogs.live.ports.RunLog` with
compare-and-set writes, so two instances starting runs for one user at the
same moment cannot both slip past the limit. Only runs that actually start
are counted: a refused run (another organisation, an address outside the
verified domains, a mailbox that does not exist) costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dialogs import store_keys
from dialogs.live.ports import RunLog

WINDOW_S = 3600.0
_ATTEMPTS = 5
_BUSY_WAIT_S = 60.0


class RunLimiter:
    """The per-user hourly limit (``per_hour`` 0 means no limit)."""

    def __init__(self, log: RunLog, per_hour: int, clock: Callable[[], float] = time.time) -> None:
        """Create the limiter.

        Args:
            log: Where run times are kept.
            per_hour: Runs allowed per user per hour; 0 means no limit.
            clock: Seconds since the epoch (tests pass their own).
        """
        self._log = log
        self.per_hour = per_hour
        self._clock = clock

    @staticmethod
    def _key(user: str) -> str:
        return store_keys.check_runs(user)

    async def _runs(self, user: str) -> tuple[list[float], str]:
        runs, version = await self._log.read(self._key(user))
        now = self._clock()
        return [t for t in runs if now - t < WINDOW_S], version

    def _wait(self, runs: list[float]) -> float | None:
        if self.per_hour <= 0 or len(runs) < self.per_hour:
            return None
        oldest = sorted(runs)[-self.per_hour]
        return max(1.0, WINDOW_S - (self._clock() - oldest))

    async def peek(self, user: str) -> float | None:
        """Seconds until the user may run the checks again, or None when they may now.

        Args:
            user: The user's key.

        Returns:
            The wait, or None.
        """
        if self.per_hour <= 0:
            return None
        runs, _ = await self._runs(user)
        return self._wait(runs)

    async def take(self, user: str) -> float | None:
        """Count one run for the user if allowed.

        Args:
            user: The user's key.

        Returns:
            None when the run was counted; else the seconds to wait.
        """
        if self.per_hour <= 0:
            return None
        for _ in range(_ATTEMPTS):
            runs, version = await self._runs(user)
            wait = self._wait(runs)
            if wait is not None:
                return wait
            if await self._log.write(self._key(user), [*runs, self._clock()], version):
                return None
        return _BUSY_WAIT_S

