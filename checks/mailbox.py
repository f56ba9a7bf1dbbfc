"""What kind of mailbox the sending address is (user, shared, room, …) and who has Full Access.

Graph's ``mailboxSettings`` is refused (403 ``ErrorAccessDenied``) for another
user's mailbox with delegated permissions, even for Global Administrators, a
long-standing service behaviour (domain.md §4). So the recipient type of the
sending mailbox is read through the Exchange admin endpoint
(``Get-Mailbox`` → ``RecipientTypeDetails``), and Graph only for the
signed-in user's own mailbox. This check only *reads*: which kinds can send,
need a licence or must keep their sign-in blocked is the knowledge file's
business, applied by the domain (:mod:`dialogs.live.verdicts`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from checks.base import (
    BaseCheck,
    CheckContext,
    Outcome,
    TokenUnavailable,
    as_text,
)
from checks.exchange import (
    PERMISSION,
    ExchangeAdminClient,
    ExchangeAdminError,
    full_access_holders,
    read_mailbox,
)
from checks.graph import GraphClient, GraphError, build_url
from dialogs.live.results import CheckStatus
from dialogs.powershell import quote_literal

#: Graph's error for a user without a usable Exchange Online mailbox.
NO_REST_MAILBOX = "MailboxNotEnabledForRESTAPI"


def user_purpose_of(body: Mapping[str, Any]) -> str | None:
    """``userPurpose`` in any shape Microsoft documents it.

    ``GET …/mailboxSettings`` has ``"userPurpose": "user"`` or
    ``"userPurpose": {"value": "user"}``; ``GET …/mailboxSettings/userPurpose``
    answers ``{"value": "user"}``.

    Args:
        body: The JSON body.

    Returns:
        The purpose ("user", "shared", …), or None when the answer has none.
    """
    if "userPurpose" in body:
        return as_text(body.get("userPurpose"))
    return as_text(body.get("value"))


class MailboxTypeCheck(BaseCheck):
    """Reads the sending mailbox's recipient type (and who has Full Access to it)."""

    check_id = "mailbox_type"
    cause_id = "unsupported_mailbox_type"

    def __init__(self, graph: GraphClient, exchange: ExchangeAdminClient | None) -> None:
        """Create the check.

        Args:
            graph: The run's Graph client (own mailbox only).
            exchange: The run's Exchange admin client; None when Exchange is not read.
        """
        self.graph = graph
        self.exchange = exchange

    async def evaluate(self, context: CheckContext, deadline: float) -> Outcome:
        """Read the type through Graph (own mailbox) or Exchange (any mailbox).

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            PASS with the raw type in the facts (the domain judges it), FAIL
            when there is no mailbox, UNKNOWN when nothing could be read.
        """
        holders = (
            asyncio.ensure_future(self._holders(context, deadline)) if self.exchange else None
        )
        try:
            outcome = await self._read(context, deadline)
            if holders is not None and outcome.status is CheckStatus.PASS:
                listed = await holders
                if listed is not None:
                    return Outcome(
                        outcome.status, outcome.finding,
                        {**outcome.facts, "full_access": ", ".join(listed) or "nobody yet"},
                        outcome.cause_id, outcome.detail,
                    )
            return outcome
        finally:
            if holders is not None and not holders.done():
                holders.cancel()

    async def _read(self, context: CheckContext, deadline: float) -> Outcome:
        # The address was validated by the context; quoted, it can go into PowerShell.
        unread = {"mailbox": context.mailbox_upn, "mailbox_ps": quote_literal(context.mailbox_upn)}
        graph_problem: GraphError | None = None
        if context.signed_in_is_mailbox:
            try:
                body = await self.graph.get(
                    build_url(context.endpoints.graph_url, "/me/mailboxSettings",
                              {"$select": "userPurpose"}),
                    deadline=deadline,
                )
                purpose = user_purpose_of(body)
                if purpose:
                    return Outcome(
                        CheckStatus.PASS, "mailbox_type.read",
                        {"kind": purpose, "user_purpose": purpose, "source": "graph"},
                    )
            except GraphError as err:
                if err.code == NO_REST_MAILBOX:
                    return Outcome(
                        CheckStatus.FAIL, "mailbox_type.no_mailbox",
                        {"mailbox": context.mailbox_upn, "source": "graph"},
                        "no_exchange_license", err.code,
                    )
                graph_problem = err
        if self.exchange is None:
            if graph_problem is not None:
                return graph_problem.outcome("MailboxSettings.Read", self.cause_id)
            return Outcome(CheckStatus.UNKNOWN, "mailbox_type.unread", unread)
        try:
            mailbox = await read_mailbox(self.exchange, context, deadline)
        except ExchangeAdminError as err:
            refused = err.outcome(PERMISSION, self.cause_id)
            return Outcome(
                CheckStatus.UNKNOWN, "mailbox_type.unread",
                {**refused.facts, **unread, "refusal": refused.finding},
                self.cause_id, refused.detail,
            )
        except TokenUnavailable as err:
            return Outcome(
                CheckStatus.UNKNOWN, "mailbox_type.unread",
                {**unread, "reason": str(err), "refusal": "token.unavailable"},
                self.cause_id,
            )
        if mailbox is None:
            return Outcome(
                CheckStatus.FAIL, "mailbox_type.no_mailbox",
                {"mailbox": context.mailbox_upn, "source": "exchange"}, "no_exchange_license",
            )
        if not mailbox.recipient_type:
            return Outcome(CheckStatus.UNKNOWN, "mailbox_type.unread", unread)
        return Outcome(
            CheckStatus.PASS, "mailbox_type.read",
            {"kind": mailbox.recipient_type, "recipient_type": mailbox.recipient_type,
             "source": "exchange"},
        )

    async def _holders(self, context: CheckContext, deadline: float) -> list[str] | None:
        assert self.exchange is not None
        try:
            return await full_access_holders(self.exchange, context, deadline)
        except (ExchangeAdminError, TokenUnavailable):
            return None  # who has Full Access is context here, not the verdict
