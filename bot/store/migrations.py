"""Versioned schema migrations for the SQLite and PostgreSQL stores.

Each backend has one ordered tuple of migrations. A database records what it
has applied in ``schema_migrations``; opening a store applies the missing ones
in order, inside one transaction, so a crash halfway leaves the previous
version intact. Never edit a migration that has shipped: append a new one.

Two processes may open the same database at once (two bot instances starting
together). SQLite serializes them with ``BEGIN IMMEDIATE`` (the write lock is
taken before ``schema_migrations`` is read); PostgreSQL with a transaction-level
advisory lock keyed on the schema name, taken before anything else.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiosqlite
    import asyncpg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """One schema change.

    Attributes:
        version: Position in the sequence, starting at 1, without gaps.
        name: A short description, stored next to the version.
        statements: SQL run in order inside the migration transaction.
    """

    version: int
    name: str
    statements: tuple[str, ...]


SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "conversation state",
        (
            # e_tag is a version number that every write bumps in the same
            # statement that checks it (UPDATE ... WHERE etag = ?).
            """
            CREATE TABLE bot_state (
                key        TEXT PRIMARY KEY,
                doc        TEXT NOT NULL,
                etag       INTEGER NOT NULL,
                updated_at TEXT NOT NULL
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
                customer_ref             TEXT NOT NULL,
                customer_name            TEXT NOT NULL DEFAULT '',
                tenant_id                TEXT NOT NULL DEFAULT '',
                summary                  TEXT NOT NULL DEFAULT '{}',
                support_thread_id        TEXT,
                support_thread_ref       TEXT,
                created_at               TEXT NOT NULL,
                updated_at               TEXT NOT NULL,
                taken_at                 TEXT,
                closed_at                TEXT,
                agent_id                 TEXT,
                agent_name               TEXT,
                rating                   INTEGER CHECK (rating BETWEEN 1 AND 5),
                solved                   INTEGER CHECK (solved IN (0, 1))
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
            """
            CREATE TABLE transcripts (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                ticket_id       TEXT,
                conversation_id TEXT NOT NULL,
                direction       TEXT NOT NULL,
                sender          TEXT NOT NULL DEFAULT '',
                text            TEXT NOT NULL,
                at              TEXT NOT NULL,
                activity_id     TEXT,
                -- A relay retried after a timeout carries the same activity id:
                -- record it once. NULL activity ids are never equal, so they
                -- are not deduplicated.
                CONSTRAINT transcripts_once_per_activity
                    UNIQUE (conversation_id, direction, activity_id)
            )
            """,
            "CREATE INDEX transcripts_by_conversation ON transcripts (conversation_id, at, id)",
            "CREATE INDEX transcripts_by_ticket ON transcripts (ticket_id, at, id)",
            """
            CREATE TABLE audit_log (
                id              INTEGER PRIMARY KEY AUTOINCREMENT,
                at              TEXT NOT NULL,
                kind            TEXT NOT NULL,
                conversation_id TEXT,
                tenant_id       TEXT,
                detail          TEXT NOT NULL DEFAULT '{}'
            )
            """,
            "CREATE INDEX audit_log_by_time ON audit_log (at)",
            "CREATE INDEX audit_log_by_kind ON audit_log (kind, at)",
            "CREATE INDEX audit_log_by_conversation ON audit_log (conversation_id, at)",
            """
            CREATE TABLE kv (
                key        TEXT PRIMARY KEY,
                value      TEXT NOT NULL,
                updated_at TEXT NOT NULL
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
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                lane        TEXT NOT NULL,
                kind        TEXT NOT NULL CHECK (kind IN ('send', 'thread')),
                target      TEXT NOT NULL,
                activities  TEXT NOT NULL,
                ticket_id   TEXT,
                on_fail     TEXT,
                status      TEXT NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'failed')),
                attempts    INTEGER NOT NULL DEFAULT 0,
                ambiguous   INTEGER NOT NULL DEFAULT 0,
                next_at     TEXT NOT NULL,
                lease_until TEXT,
                error       TEXT,
                created_at  TEXT NOT NULL
            )
            """,
            "CREATE INDEX outbox_by_lane ON outbox (lane, id) WHERE status = 'pending'",
            "CREATE INDEX outbox_due ON outbox (next_at) WHERE status = 'pending'",
        ),
    ),
)

POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "conversation state",
        (
            """
            CREATE TABLE bot_state (
                key        TEXT PRIMARY KEY,
                doc        JSONB NOT NULL,
                etag       BIGINT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
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
                customer_ref             JSONB NOT NULL,
                customer_name            TEXT NOT NULL DEFAULT '',
                tenant_id                TEXT NOT NULL DEFAULT '',
                summary                  JSONB NOT NULL DEFAULT '{}',
                support_thread_id        TEXT,
                support_thread_ref       JSONB,
                created_at               TIMESTAMPTZ NOT NULL,
                updated_at               TIMESTAMPTZ NOT NULL,
                taken_at                 TIMESTAMPTZ,
                closed_at                TIMESTAMPTZ,
                agent_id                 TEXT,
                agent_name               TEXT,
                rating                   SMALLINT CHECK (rating BETWEEN 1 AND 5),
                solved                   BOOLEAN
            )
            """,
            """
            CREATE UNIQUE INDEX tickets_one_open_per_customer
                ON tickets (customer_conversation_id) WHERE status <> 'closed'
            """,
            "CREATE INDEX tickets_by_thread ON tickets (support_thread_id)",
            "CREATE INDEX tickets_by_status ON tickets (status, created_at)",
            """
            CREATE TABLE transcripts (
                id              BIGSERIAL PRIMARY KEY,
                ticket_id       TEXT,
                conversation_id TEXT NOT NULL,
                direction       TEXT NOT NULL,
                sender          TEXT NOT NULL DEFAULT '',
                text            TEXT NOT NULL,
                at              TIMESTAMPTZ NOT NULL,
                activity_id     TEXT,
                CONSTRAINT transcripts_once_per_activity
                    UNIQUE (conversation_id, direction, activity_id)
            )
            """,
            "CREATE INDEX transcripts_by_conversation ON transcripts (conversation_id, at, id)",
            "CREATE INDEX transcripts_by_ticket ON transcripts (ticket_id, at, id)",
            """
            CREATE TABLE audit_log (
                id              BIGSERIAL PRIMARY KEY,
                at              TIMESTAMPTZ NOT NULL,
                kind            TEXT NOT NULL,
                conversation_id TEXT,
                tenant_id       TEXT,
                detail          JSONB NOT NULL DEFAULT '{}'
            )
            """,
            "CREATE INDEX audit_log_by_time ON audit_log (at)",
            "CREATE INDEX audit_log_by_kind ON audit_log (kind, at)",
            "CREATE INDEX audit_log_by_conversation ON audit_log (conversation_id, at)",
            """
            CREATE TABLE kv (
                key        TEXT PRIMARY KEY,
                value      JSONB NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )
            """,
        ),
    ),
    Migration(
        3,
        "outbox: what must reach a person, delivered after the turn that wrote it",
        (
            """
            CREATE TABLE outbox (
                id          BIGSERIAL PRIMARY KEY,
                lane        TEXT NOT NULL,
                kind        TEXT NOT NULL CHECK (kind IN ('send', 'thread')),
                target      JSONB NOT NULL,
                activities  JSONB NOT NULL,
                ticket_id   TEXT,
                on_fail     JSONB,
                status      TEXT NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'failed')),
                attempts    INTEGER NOT NULL DEFAULT 0,
                ambiguous   INTEGER NOT NULL DEFAULT 0,
                next_at     TIMESTAMPTZ NOT NULL,
                lease_until TIMESTAMPTZ,
                error       TEXT,
                created_at  TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX outbox_by_lane ON outbox (lane, id) WHERE status = 'pending'",
            "CREATE INDEX outbox_due ON outbox (next_at) WHERE status = 'pending'",
        ),
    ),
)


def latest_version(migrations: tuple[Migration, ...]) -> int:
    """Return the version a fully migrated database reports (0 for none)."""
    return migrations[-1].version if migrations else 0


def check_sequence(migrations: tuple[Migration, ...]) -> None:
    """Raise ValueError unless versions run 1, 2, 3… without gaps or repeats."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(
                f"migration {migration.name!r} has version {migration.version}, expected {expected}"
            )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _warn_if_newer(applied: set[int], migrations: tuple[Migration, ...]) -> None:
    newest = max(applied, default=0)
    if newest > latest_version(migrations):
        # An older release started against a database a newer one migrated
        # (a rollback). Migrations only add, so carry on, but say so.
        log.warning(
            "database schema is at version %d, newer than this code's %d",
            newest,
            latest_version(migrations),
        )


async def migrate_sqlite(
    conn: aiosqlite.Connection,
    migrations: tuple[Migration, ...] = SQLITE_MIGRATIONS,
) -> list[int]:
    """Apply the missing SQLite migrations in one ``BEGIN IMMEDIATE`` transaction.

    Args:
        conn: An open connection in autocommit mode (``isolation_level=None``)
            with a busy timeout, so a second process waits for the first.
        migrations: The ordered migrations (the default outside tests).

    Returns:
        The versions applied by this call (empty when already up to date).
    """
    check_sequence(migrations)
    applied_now: list[int] = []
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )
            """
        )
        async with conn.execute("SELECT version FROM schema_migrations") as cursor:
            applied = {int(row[0]) for row in await cursor.fetchall()}
        _warn_if_newer(applied, migrations)
        for migration in migrations:
            if migration.version in applied:
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, _now()),
            )
            applied_now.append(migration.version)
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise
    if applied_now:
        log.info("sqlite schema migrated to version %d", applied_now[-1])
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


async def migrate_postgres(
    conn: asyncpg.Connection,
    schema: str = "public",
    migrations: tuple[Migration, ...] = POSTGRES_MIGRATIONS,
) -> list[int]:
    """Apply the missing PostgreSQL migrations under an advisory lock.

    Args:
        conn: A connection not inside a transaction.
        schema: The schema holding the bot's tables; created if missing.
        migrations: The ordered migrations (the default outside tests).

    Returns:
        The versions applied by this call (empty when already up to date).
    """
    check_sequence(migrations)
    check_schema_name(schema)
    applied_now: list[int] = []
    async with conn.transaction():
        # Released at commit/rollback; a second process blocks here and then
        # finds everything already applied.
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            f"mail_setup_assistant.migrations:{schema}",
        )
        # Only create when missing: CREATE SCHEMA IF NOT EXISTS still needs the
        # CREATE privilege on the database, which a least-privilege role lacks.
        exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
        if not exists:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version FROM schema_migrations")
        applied = {int(row["version"]) for row in rows}
        _warn_if_newer(applied, migrations)
        for migration in migrations:
            if migration.version in applied:
                continue
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied_now.append(migration.version)
    if applied_now:
        log.info("postgres schema %s migrated to version %d", schema, applied_now[-1])
    return applied_now
