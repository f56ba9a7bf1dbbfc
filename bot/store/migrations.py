"""Versioned schema migrations, written once for SQLite and PostgreSQL.

One ordered tuple of migrations; each statement names its column types as
dialect fragments (``{json}``, ``{time}``, ``{serial}`` …, see
``bot.store.dialect``), so both databases get the same tables, columns,
constraints and indexes in their own types. A database records what it has
applied in ``schema_migrations``; opening a store applies the missing ones in
order, inside one transaction, so a crash halfway leaves the previous version
intact. Never change what a migration that has shipped creates: append a new one.

Two processes may open the same database at once (two bot instances starting
together). SQLite serializes them with ``BEGIN IMMEDIATE`` (the write lock is
taken before ``schema_migrations`` is read); PostgreSQL with a transaction-level
advisory lock keyed on the schema name, taken before anything else. Both are
the backends' part (``bot/store/sqlite.py``, ``bot/store/postgres.py``); what
runs inside is :func:`apply_migrations`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .dialect import Dialect, Tx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """One schema change.

    Attributes:
        version: Position in the sequence, starting at 1, without gaps.
        name: A short description, stored next to the version.
        statements: SQL run in order inside the migration transaction, with
            ``{type}`` fragments the dialect fills in (``'{{}}'`` is the text ``'{}'``).
    """

    version: int
    name: str
    statements: tuple[str, ...]

    def statements_for(self, dialect: Dialect) -> list[str]:
        """The statements as ``dialect`` spells them."""
        return [dialect.sql(statement) for statement in self.statements]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "conversation state",
        (
            # e_tag is a version number that every write bumps in the same
            # statement that checks it (UPDATE ... WHERE etag = ?).
            """
            CREATE TABLE bot_state (
                key        TEXT PRIMARY KEY,
                doc        {json} NOT NULL,
                etag       {bigint} NOT NULL,
                updated_at {time} NOT NULL{now_default}
            )
            """,
        ),
    ),
    Migration(
        2,
        "handoff tickets, transcripts, audit log, settings",
        (
            """
            CREATE TABLE tickets (
                id                       TEXT PRIMARY KEY,
                status                   TEXT NOT NULL
                                         CHECK (status IN ('waiting', 'taken', 'closed')),
                customer_conversation_id TEXT NOT NULL,
                customer_ref             {json} NOT NULL,
                customer_name            TEXT NOT NULL DEFAULT '',
                tenant_id                TEXT NOT NULL DEFAULT '',
                summary                  {json} NOT NULL DEFAULT '{{}}',
                support_thread_id        TEXT,
                support_thread_ref       {json},
                created_at               {time} NOT NULL,
                updated_at               {time} NOT NULL,
                taken_at                 {time},
                closed_at                {time},
                agent_id                 TEXT,
                agent_name               TEXT,
                rating                   {smallint} CHECK (rating BETWEEN 1 AND 5),
                solved                   {flag[solved]}
            )
            """,
            # At most one open ticket per customer conversation, enforced by the
            # database so two instances escalating at once create one ticket.
            """
            CREATE UNIQUE INDEX tickets_one_open_per_customer
                ON tickets (customer_conversation_id) WHERE status <> 'closed'
            """,
            "CREATE INDEX tickets_by_thread ON tickets (support_thread_id)",
            "CREATE INDEX tickets_by_status ON tickets (status, created_at)",
            # A relay retried after a timeout carries the same activity id: it is
            # recorded once. NULL activity ids are never equal, so they are not
            # deduplicated.
            """
            CREATE TABLE transcripts (
                id              {serial},
                ticket_id       TEXT,
                conversation_id TEXT NOT NULL,
                direction       TEXT NOT NULL,
                sender          TEXT NOT NULL DEFAULT '',
                text            TEXT NOT NULL,
                at              {time} NOT NULL,
                activity_id     TEXT,
                CONSTRAINT transcripts_once_per_activity
                    UNIQUE (conversation_id, direction, activity_id)
            )
            """,
            "CREATE INDEX transcripts_by_conversation ON transcripts (conversation_id, at, id)",
            "CREATE INDEX transcripts_by_ticket ON transcripts (ticket_id, at, id)",
            """
            CREATE TABLE audit_log (
                id              {serial},
                at              {time} NOT NULL,
                kind            TEXT NOT NULL,
                conversation_id TEXT,
                tenant_id       TEXT,
                detail          {json} NOT NULL DEFAULT '{{}}'
            )
            """,
            "CREATE INDEX audit_log_by_time ON audit_log (at)",
            "CREATE INDEX audit_log_by_kind ON audit_log (kind, at)",
            "CREATE INDEX audit_log_by_conversation ON audit_log (conversation_id, at)",
            """
            CREATE TABLE kv (
                key        TEXT PRIMARY KEY,
                value      {json} NOT NULL,
                updated_at {time} NOT NULL
            )
            """,
        ),
    ),
    Migration(
        3,
        "outbox: what must reach a person, delivered after the turn that wrote it",
        (
            # One row per message that must arrive (relays, ticket cards, "agent joined",
            # hand back). A lane is the conversation it goes to: rows of one lane are
            # delivered in id order, one at a time, by whichever instance holds the lease.
            """
            CREATE TABLE outbox (
                id          {serial},
                lane        TEXT NOT NULL,
                kind        TEXT NOT NULL CHECK (kind IN ('send', 'thread')),
                target      {json} NOT NULL,
                activities  {json} NOT NULL,
                ticket_id   TEXT,
                on_fail     {json},
                status      TEXT NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'failed')),
                attempts    INTEGER NOT NULL DEFAULT 0,
                ambiguous   INTEGER NOT NULL DEFAULT 0,
                next_at     {time} NOT NULL,
                lease_until {time},
                error       TEXT,
                created_at  {time} NOT NULL
            )
            """,
            "CREATE INDEX outbox_by_lane ON outbox (lane, id) WHERE status = 'pending'",
            "CREATE INDEX outbox_due ON outbox (next_at) WHERE status = 'pending'",
        ),
    ),
    Migration(
        4,
        "retention: find expired transcripts and closed tickets by age",
        (
            # bot/store/retention.py deletes in small batches of the oldest rows.
            "CREATE INDEX transcripts_by_time ON transcripts (at)",
            "CREATE INDEX tickets_closed_by_time ON tickets (closed_at) WHERE status = 'closed'",
        ),
    ),
)


def latest_version(migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Return the version a fully migrated database reports (0 for none)."""
    return migrations[-1].version if migrations else 0


def check_sequence(migrations: tuple[Migration, ...]) -> None:
    """Raise ValueError unless versions run 1, 2, 3… without gaps or repeats."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(
                f"migration {migration.name!r} has version {migration.version}, expected {expected}"
            )


async def apply_migrations(tx: Tx, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply the missing migrations on ``tx``, inside the caller's transaction and lock.

    Args:
        tx: A connection inside the migration transaction (SQLite: ``BEGIN
            IMMEDIATE``; PostgreSQL: after the advisory lock and ``search_path``).
        migrations: The ordered migrations (the default outside tests).

    Returns:
        The versions applied by this call (empty when already up to date).
    """
    check_sequence(migrations)
    await tx.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            applied_at {time} NOT NULL{now_default}
        )
        """
    )
    applied = {int(row[0]) for row in await tx.fetch("SELECT version FROM schema_migrations")}
    newest = max(applied, default=0)
    if newest > latest_version(migrations):
        # An older release started against a database a newer one migrated
        # (a rollback). Migrations only add, so carry on, but say so.
        log.warning("database schema is at version %d, newer than this code's %d",
                    newest, latest_version(migrations))
    applied_now: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.statements:
            await tx.execute(statement)
        await tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            migration.version, migration.name, tx.dialect.time(datetime.now(UTC)))
        applied_now.append(migration.version)
    if applied_now:
        log.info("%s schema migrated to version %d", tx.dialect.name, applied_now[-1])
    return applied_now


_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(schema: str) -> str:
    """Return ``schema`` if it is a plain lower-case identifier, else raise ValueError.

    The schema name is put into SQL as an identifier, so only a safe subset
    is accepted rather than trying to quote arbitrary text.
    """
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"PostgreSQL schema must match {_SCHEMA_NAME.pattern}, got {schema!r}")
    return schema
