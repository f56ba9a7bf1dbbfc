"""Live, read-only checks of a customer's Microsoft 365 tenant.

Each check reads one setting (through Microsoft Graph, the Exchange admin
endpoint or an SMTP handshake) and answers with a :class:`CheckResult` (a
domain type, :mod:`dialogs.live.results`): a finding key, its facts and the
knowledge-base cause it speaks to; never a sentence. Nothing here changes the tenant,
sends mail or imports a bot framework: the HTTP session, the token provider
and every endpoint are injected so the same code runs against Microsoft and
against the local fakes in ``tests/checks/fakes.py``.

Typical use from the bot::

    checks = default_checks(session, token_provider)
    async for result in run_checks(context, checks, token_tenant_id=tid):
        ...  # update the results card
"""

from checks.base import (
    EXCHANGE_SCOPE,
    GRAPH_SCOPE,
    SMTP_SCOPE,
    Check,
    CheckContext,
    Endpoints,
    SslContextFactory,
    TenantIsolationError,
    TokenProvider,
    TokenUnavailable,
)
from checks.runner import collect, default_checks, ensure_same_tenant, run_checks
from dialogs.live.results import CheckResult, CheckStatus

__all__ = [
    "EXCHANGE_SCOPE",
    "GRAPH_SCOPE",
    "SMTP_SCOPE",
    "Check",
    "CheckContext",
    "CheckResult",
    "CheckStatus",
    "Endpoints",
    "SslContextFactory",
    "TenantIsolationError",
    "TokenProvider",
    "TokenUnavailable",
    "collect",
    "default_checks",
    "ensure_same_tenant",
    "run_checks",
]
