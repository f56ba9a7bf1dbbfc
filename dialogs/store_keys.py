"""Every key prefix the bot stores under, in one list: what each holds and how long it stays.

The store has tables of its own for tickets, transcripts, the outbox and the
audit log; everything else is an item under a string key, either in the
botbuilder ``Storage`` (the ``bot_state`` table, written with e-tags) or in the
key-value table (``kv``). Writers build their keys with the functions here and
:mod:`bot.store.retention` expires the prefixes in :data:`EXPIRING`, so a
renamed prefix cannot silently keep its items forever.

``RETENTION_DAYS`` (default 90) is the period for everything that expires.
"""

from __future__ import annotations

# ----- botbuilder Storage (bot_state) ------------------------------------------------------
#: ``conv/<channel>/<conversation>``: a conversation's record — the flow's snapshot, its
#: handoff state, last messages and live-check results. Kept while the conversation
#: exists: it lets the customer pick up where they left off.
CONVERSATION = "conv/"
#: ``sso-exchange/<digest of the exchange id>``: a Teams SSO token exchange already
#: handled (several Teams clients deliver the same one). Expires after RETENTION_DAYS.
SIGN_IN_EXCHANGE = "sso-exchange/"
#: ``checks-rate/<user>``: the times of a user's recent live-check runs, for the hourly
#: limit. Expires after RETENTION_DAYS without a run.
CHECK_RUNS = "checks-rate/"

# ----- key-value table (kv) ----------------------------------------------------------------
#: ``tokencache/<user>``: a user's MSAL token cache, encrypted. Expires after
#: RETENTION_DAYS unused.
TOKEN_CACHE = "tokencache/"  # noqa: S105 - a key prefix, not a secret
#: The support channel agents registered (a conversation reference). Kept.
SUPPORT_CHANNEL = "handoff/support_channel"
#: The hour an instance claimed to run the retention purge (overwritten, kept).
RETENTION_CLAIM = "retention/last-run"
#: The one item ``/readyz`` writes to prove the store takes writes (overwritten, kept).
HEALTH_PROBE = "health/write-probe"

# ----- keys inside tables ------------------------------------------------------------------
#: ``thread:<ticket>``: the outbox lane of a ticket's new support thread (a customer's
#: messages use their conversation id as the lane). Delivered rows are removed; rows
#: given up expire after RETENTION_DAYS.
THREAD_LANE = "thread:"
#: ``handoff-timeout:<ticket>``: the transcript line of the "still waiting" notice, whose
#: key makes it go out once per ticket. Expires with the transcripts.
TIMEOUT_NOTICE = "handoff-timeout:"

#: The prefixes of items that expire after RETENTION_DAYS: (table, prefix).
EXPIRING: tuple[tuple[str, str], ...] = (
    ("bot_state", SIGN_IN_EXCHANGE),
    ("bot_state", CHECK_RUNS),
    ("kv", TOKEN_CACHE),
)


def conversation(channel_id: str, conversation_id: str) -> str:
    """The key of a conversation's record (channel-scoped so ids cannot collide)."""
    return f"{CONVERSATION}{channel_id}/{conversation_id}"


def sign_in_exchange(digest: str) -> str:
    """The key that marks a Teams SSO exchange as handled."""
    return SIGN_IN_EXCHANGE + digest


def check_runs(user: str) -> str:
    """The key of a user's recent live-check run times."""
    return CHECK_RUNS + user


def token_cache(user: str) -> str:
    """The key of a user's encrypted token cache."""
    return TOKEN_CACHE + user


def thread_lane(ticket_id: str) -> str:
    """The outbox lane that opens a ticket's support thread."""
    return THREAD_LANE + ticket_id


def timeout_notice(ticket_id: str) -> str:
    """The transcript key of a ticket's "still waiting" notice."""
    return TIMEOUT_NOTICE + ticket_id
