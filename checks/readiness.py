"""December 2026 readiness: how does this mailbox sign in to SMTP today?

At the end of December 2026 Microsoft turns Basic authentication (a password,
app passwords included) for SMTP AUTH off by default for existing tenants
(domain.md §1). This check looks at what the mailbox actually does:

* password SMTP sign-ins: the v1.0 sign-in log, client app "Authenticated
  SMTP", over the last 7 days (the same page the recent-failures check reads);
* OAuth sign-ins: the mailbox user's non-interactive sign-ins to "Office 365
  Exchange Online" in the same window (Graph beta, the documented
  ``signInEventTypes/any(t: t eq 'nonInteractiveUser')`` filter): an app
  refreshing its SMTP token shows up there;
* the authentication policy that applies to the user
  (``Get-AuthenticationPolicy`` / ``AllowBasicAuthSmtp`` through the Exchange
  admin endpoint): whether password SMTP is already blocked.

The sign-in log needs Entra ID P1; without it the result says what could not
be seen and where to look instead (the Exchange admin center's SMTP AUTH
clients report).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

from checks.base import (
    SIGN_IN_WINDOW_DAYS,
    BaseCheck,
    CheckContext,
    Outcome,
    TokenUnavailable,
    as_text,
)
from checks.exchange import (
    BasicSmtpPolicy,
    ExchangeAdminClient,
    ExchangeAdminError,
    basic_smtp_policy,
)
from checks.graph import (
    AUTHENTICATED_SMTP,
    EXCHANGE_ONLINE_APP_ID,
    NON_PREMIUM_CODE,
    GraphClient,
    GraphError,
    build_url,
    error_code_of,
    odata_quote,
    smtp_sign_ins_url,
)
from dialogs.live.results import CheckStatus

BASIC_AUTH = "basic_auth_disabled"
#: Apps named in the "already on OAuth" sentence, most sign-ins first.
MAX_APPS_NAMED = 3


def oauth_sign_ins_url(context: CheckContext) -> str:
    """The beta sign-in log query for the mailbox user's non-interactive sign-ins in the window.

    Args:
        context: Supplies the mailbox, the window and the endpoint.

    Returns:
        The URL.
    """
    since = context.window_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    flt = (
        f"userPrincipalName eq {odata_quote(context.mailbox_upn)} and createdDateTime ge "
        f"{since} and signInEventTypes/any(t: t eq 'nonInteractiveUser')"
    )
    return build_url(
        context.endpoints.graph_beta_url, "/auditLogs/signIns", {"$filter": flt, "$top": "500"}
    )


def is_oauth_to_exchange(sign_in: Mapping[str, Any]) -> bool:
    """True for a successful OAuth sign-in to Exchange Online (not a password SMTP one).

    Args:
        sign_in: A ``signIn`` object.

    Returns:
        Whether it counts as "this mailbox uses OAuth".
    """
    resource = as_text(sign_in.get("resourceId")) or ""
    name = as_text(sign_in.get("resourceDisplayName")) or ""
    to_exchange = resource.lower() == EXCHANGE_ONLINE_APP_ID or name == "Office 365 Exchange Online"
    return (
        to_exchange
        and as_text(sign_in.get("clientAppUsed")) != AUTHENTICATED_SMTP
        and error_code_of(sign_in) == "0"
    )


class ReadinessCheck(BaseCheck):
    """Password SMTP sign-ins vs OAuth over 7 days, and the authentication policy."""

    check_id = "smtp_readiness"
    cause_id = "basic_auth_disabled"

    def __init__(self, graph: GraphClient, exchange: ExchangeAdminClient | None) -> None:
        """Create the check.

        Args:
            graph: The run's Graph client.
            exchange: The run's Exchange admin client; None when Exchange is not read.
        """
        self.graph = graph
        self.exchange = exchange

    async def evaluate(self, context: CheckContext, deadline: float) -> Outcome:
        """Read the log and the policy concurrently; judge how the mailbox signs in.

        Args:
            context: Whom and what to check.
            deadline: ``loop.time()`` by which the check must be done.

        Returns:
            WARN for password sign-ins (FAIL when a policy already blocks them),
            PASS on OAuth, UNKNOWN when the log can't be seen and the customer
            didn't say.
        """
        basic, oauth, policy = await asyncio.gather(
            self.graph.get_all(smtp_sign_ins_url(context), deadline=deadline),
            self.graph.get_all(oauth_sign_ins_url(context), deadline=deadline),
            self._policy(context, deadline),
            return_exceptions=True,
        )
        for outcome in (basic, oauth):
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, GraphError | TokenUnavailable
            ):
                raise outcome
        facts: dict[str, Any] = {"days": SIGN_IN_WINDOW_DAYS}
        blocks = isinstance(policy, BasicSmtpPolicy) and policy.allows_basic_smtp is False
        if isinstance(policy, BasicSmtpPolicy):
            facts["policy"] = policy.policy or "none"
            facts["basic_smtp_allowed"] = {True: "yes", False: "no", None: "?"}[
                policy.allows_basic_smtp
            ] if policy.policy else "yes"
        said = context.auth_method

        if isinstance(basic, BaseException):
            if isinstance(basic, GraphError) and basic.code == NON_PREMIUM_CODE:
                return self._without_log(facts, said, blocks)
            if isinstance(basic, GraphError):
                return basic.outcome(
                    "AuditLog.Read.All and Directory.Read.All", self.cause_id
                )
            return Outcome(
                CheckStatus.UNKNOWN, "token.unavailable", {"reason": str(basic)}, self.cause_id
            )
        attempts = len(basic)
        worked = sum(1 for s in basic if error_code_of(s) == "0")
        if attempts:
            facts["count"] = worked or attempts
            if blocks:
                return Outcome(
                    CheckStatus.FAIL, "readiness.password_blocked", facts, "basic_auth_disabled"
                )
            finding = "readiness.password" if worked else "readiness.password_tried"
            return Outcome(CheckStatus.WARN, finding, facts, "basic_auth_disabled")
        apps: Counter[str] = Counter()
        if isinstance(oauth, list):
            for sign_in in oauth:
                if is_oauth_to_exchange(sign_in):
                    apps[as_text(sign_in.get("appDisplayName")) or "an app"] += 1
        if apps:
            facts["apps"] = ", ".join(
                f"'{name}' ({count})" for name, count in apps.most_common(MAX_APPS_NAMED)
            )
            return Outcome(CheckStatus.PASS, "readiness.oauth", facts)
        if said == "oauth":
            return Outcome(CheckStatus.PASS, "readiness.said_oauth", facts)
        if said == "basic":
            return Outcome(CheckStatus.WARN, "readiness.said_password", facts, BASIC_AUTH)
        return Outcome(CheckStatus.UNKNOWN, "readiness.no_activity", facts)

    def _without_log(self, facts: dict[str, Any], said: str | None, blocks: bool) -> Outcome:
        # Without Entra ID P1 there is no sign-in log to read; the customer's
        # own answer and the authentication policy are all there is.
        if said == "basic":
            return Outcome(CheckStatus.WARN, "readiness.said_password", facts, BASIC_AUTH)
        if said == "oauth":
            return Outcome(CheckStatus.PASS, "readiness.said_oauth_no_log", facts)
        finding = "readiness.no_log_policy_blocks" if blocks else "readiness.no_log"
        return Outcome(CheckStatus.UNKNOWN, finding, facts, None, NON_PREMIUM_CODE)

    async def _policy(
        self, context: CheckContext, deadline: float
    ) -> BasicSmtpPolicy | None:
        if self.exchange is None:
            return None
        try:
            return await basic_smtp_policy(self.exchange, context, deadline)
        except (ExchangeAdminError, TokenUnavailable):
            return None  # the policy sharpens the verdict; without it the log still speaks
