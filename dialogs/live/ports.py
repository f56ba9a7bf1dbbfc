"""The desk's ports: what the live checks need from the edge, as protocols the domain owns.

The edge (``bot/live_checks.py``) implements them with the Bot Framework, the
store, MSAL and ``checks/``; the tests implement them in memory. Nothing here
knows about a ``TurnContext``, an HTTP session or a token.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dialogs.live.results import CheckResult
from dialogs.session import Reply


class PreflightError(Exception):
    """Who signed in, or their organisation, could not be read.

    Attributes:
        finding: The phrase key saying why (e.g. "graph.certificate").
        facts: Its facts.
    """

    def __init__(self, finding: str, facts: Mapping[str, str] | None = None) -> None:
        """Build the error.

        Args:
            finding: The phrase key saying why.
            facts: Its facts.
        """
        super().__init__(finding)
        self.finding = finding
        self.facts: Mapping[str, str] = dict(facts or {})


class OtherOrganisation(Exception):
    """The sign-in belongs to another organisation than the chat's (or Graph answered for one)."""


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, as Microsoft Graph says."""

    tenant_id: str
    user_id: str
    user_upn: str
    domains: tuple[str, ...]


@dataclass(frozen=True)
class MailboxUser:
    """The user behind the sending address (``user_id`` None when it could not be looked up)."""

    upn: str
    user_id: str | None = None


@dataclass(frozen=True)
class RunPlan:
    """Everything a run of the checks needs, in domain terms."""

    tenant_id: str
    user_id: str
    user_upn: str
    mailbox: str
    mailbox_id: str | None
    domains: tuple[str, ...]
    auth_method: str | None
    timeout_s: float


class Tenant(Protocol):
    """The signed-in user's tenant, read with their own token (Microsoft Graph)."""

    def token_tenant(self) -> str | None:
        """The tenant the user's token is for (its ``tid``), once known."""
        ...

    async def signed_in(self) -> SignedIn:
        """Who signed in and their organisation's verified domains.

        Raises:
            OtherOrganisation: Graph answered for another organisation.
            PreflightError: It could not be read.
        """
        ...

    async def find_mailbox(self, address: str) -> MailboxUser | None:
        """The user of a sending address; None when the organisation has none.

        When the lookup itself is not possible (no permission), the address is
        returned as it is, without an id: the checks then say what they can.
        """
        ...


class CheckSuite(Protocol):
    """The checks of one run (the edge builds them on ``checks/``)."""

    def check_ids(self) -> Sequence[str]:
        """The checks the run will report, in card order."""
        ...

    def start(self, plan: RunPlan) -> AsyncGenerator[CheckResult, None]:
        """Start every check; results arrive in completion order.

        Raises:
            OtherOrganisation: The plan would leave the signed-in tenant (checked
                before any request is made).
        """
        ...


class Screen(Protocol):
    """Where the run talks to the customer (a proactive conversation in the edge)."""

    async def show(self, reply: Reply) -> str | None:
        """Post a message; returns its id (for updating a card), if any."""
        ...

    async def replace(self, message_id: str | None, reply: Reply) -> str | None:
        """Update a posted card in place (posting anew when that is not possible)."""
        ...


class Conversation(Protocol):
    """One conversation's state as the live checks see it."""

    #: Names the conversation (one run per conversation at a time).
    key: str

    async def live(self) -> dict[str, Any]:
        """The live-check state (a copy; change it through :meth:`change`)."""
        ...

    async def answers(self) -> Mapping[str, Any]:
        """The guided flow's answers so far (mailbox, auth_method, …)."""
        ...

    async def language(self) -> str:
        """The conversation's language ("en", "lv" or "ru"): what the desk says is in it."""
        ...

    async def change(self, mutate: Callable[[dict[str, Any]], None]) -> None:
        """Change the live-check state and store it."""
        ...


class RunLog(Protocol):
    """When each user ran the checks, kept where every instance sees it (compare-and-set)."""

    async def read(self, key: str) -> tuple[list[float], str]:
        """The run times for ``key`` and a version to write against ("new" when none)."""
        ...

    async def write(self, key: str, runs: list[float], version: str) -> bool:
        """Store the run times if nobody wrote since ``version``; False on a conflict."""
        ...
