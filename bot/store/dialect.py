"""What differs between SQLite and PostgreSQL, so that the store's SQL is written once.

Every statement is written in PostgreSQL's spelling, which SQLite (3.35 and
later) also understands: numbered placeholders ``$1, $2 …`` (one may stand
twice), ``INSERT … ON CONFLICT … DO UPDATE SET x = excluded.x`` upserts,
``RETURNING``, row values, ``CAST(x AS TEXT)``. A :class:`Dialect` supplies
the rest:

* **placeholders**: SQLite's ``?1, ?2 …`` for ``$1, $2 …`` (each statement text
  is translated once and kept);
* **locking**, as ``{fragments}`` in the text: ``{for_share}`` and
  ``{skip_locked}`` are PostgreSQL's row locks; SQLite needs none, because a
  write transaction there holds the whole database (``BEGIN IMMEDIATE``);
* **byte order** for a key range, ``key{binary} >= $1``: SQLite compares text
  bytewise already; PostgreSQL's ``COLLATE "C"`` does so too;
* **JSON**: stored as text in SQLite and JSONB in PostgreSQL, passed and read
  as JSON text on both; :meth:`Dialect.json_text` reads one field, and
  :meth:`Dialect.in_array` with :meth:`Dialect.array` tests membership in a
  list passed as one parameter;
* **time**: ISO-8601 UTC text in SQLite (fixed width, so it sorts and compares
  as time), ``TIMESTAMPTZ`` in PostgreSQL; :meth:`Dialect.time` and
  :meth:`Dialect.read_time` convert;
* **types** in the schema (``{json}``, ``{time}``, ``{serial}`` …), for the
  migrations.

Statements run on a :class:`Tx` (one connection, inside or outside a
transaction) or through a :class:`Database`; ``bot/store/sqlite.py`` and
``bot/store/postgres.py`` implement both on their drivers' public APIs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
#: A result row: a tuple (sqlite3) or an ``asyncpg.Record``; read by position.
Row = Sequence[Any]

_PLACEHOLDER = re.compile(r"\$(\d+)")


class _Flag:
    """The ``{flag[column]}`` schema fragment: a yes/no column of one name."""

    def __init__(self, spelling: str) -> None:
        self.spelling = spelling

    def __getitem__(self, column: str) -> str:
        return self.spelling.format(column=column)


def _iso_utc(utc: datetime) -> str:
    """``utc.isoformat(timespec="microseconds")`` for a UTC datetime, in half the time.

    Every turn stamps its rows with one of these; ``isoformat`` looks up the
    offset and parses its keyword on each call. (An f-string with format specs
    takes longer than ``isoformat``; %-formatting: 1.3 µs, ``isoformat`` 1.8.)
    """
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (  # noqa: UP031 - see above
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond)


class Dialect:
    """How one database spells what the other spells differently."""

    def __init__(self, name: str, *, numbered: str, fragments: Mapping[str, Any]) -> None:
        """Describe a dialect.

        Args:
            name: ``"sqlite"`` or ``"postgres"``.
            numbered: What ``$n`` becomes (``"?{n}"`` or ``"${n}"``).
            fragments: The ``{name}`` fragments statements and the schema use.
        """
        self.name = name
        self._numbered = numbered
        self._fragments = dict(fragments)
        # The last time parameter made (the moment, its value): one turn stamps the same
        # moment on its state, audit and transcript rows. One tuple, replaced whole, so a
        # thread reading it never pairs one moment with another's value.
        self._last_time: tuple[datetime | None, Any] = (None, None)
        self._texts: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Dialect({self.name!r})"

    def sql(self, statement: str) -> str:
        """Return ``statement`` in this dialect: fragments filled in, placeholders renamed.

        Each distinct text is translated once and remembered (a store runs a few
        dozen distinct statements), so a turn pays a dictionary lookup.
        """
        try:
            return self._texts[statement]
        except KeyError:
            pass
        text = statement.format_map(self._fragments) if "{" in statement else statement
        if self._numbered != "${n}":
            text = _PLACEHOLDER.sub(lambda m: self._numbered.format(n=m.group(1)), text)
        self._texts[statement] = text
        return text

    # -- values ---------------------------------------------------------------------------
    def time(self, ts: datetime) -> Any:
        """The parameter for a point in time (a naive ``ts`` is taken to be UTC)."""
        moment, made = self._last_time
        if moment is ts:
            return made
        utc = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        value = _iso_utc(utc) if self.name == "sqlite" else utc
        self._last_time = (ts, value)
        return value

    def read_time(self, value: datetime | str) -> datetime:
        """The aware UTC datetime a time column holds."""
        ts = datetime.fromisoformat(value) if isinstance(value, str) else value
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)

    def read_time_or_none(self, value: Any) -> datetime | None:
        """:meth:`read_time`, with NULL read as None."""
        return None if value is None else self.read_time(value)

    def array(self, values: Sequence[str]) -> Any:
        """The parameter for a list of strings that :meth:`in_array` tests against."""
        return json.dumps(list(values)) if self.name == "sqlite" else list(values)

    def in_array(self, column: str, param: str) -> str:
        """SQL that is true when ``column`` is one of the strings in parameter ``param``."""
        if self.name == "sqlite":
            return f"{column} IN (SELECT value FROM json_each({param}))"
        return f"{column} = ANY({param}::text[])"

    def json_text(self, column: str, field_param: str) -> str:
        """SQL for a top-level field of a JSON column as text (``true``/``false`` for
        booleans, NULL when missing or JSON null); ``field_param`` names the field."""
        if self.name == "sqlite":
            path = f"'$.' || {field_param}"
            return (f"CASE json_type({column}, {path}) WHEN 'true' THEN 'true' "
                    f"WHEN 'false' THEN 'false' WHEN 'null' THEN NULL "
                    f"ELSE CAST(json_extract({column}, {path}) AS TEXT) END")
        return f"{column}->>{field_param}"


SQLITE = Dialect("sqlite", numbered="?{n}", fragments={
    "for_share": "", "skip_locked": "", "binary": "",
    "json": "TEXT", "time": "TEXT", "bigint": "INTEGER", "smallint": "INTEGER",
    "serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "now_default": "",
    # SQLite has no boolean type: 0 or 1 in an INTEGER.
    "flag": _Flag("INTEGER CHECK ({column} IN (0, 1))"),
})
POSTGRES = Dialect("postgres", numbered="${n}", fragments={
    "for_share": " FOR SHARE", "skip_locked": " FOR UPDATE SKIP LOCKED", "binary": ' COLLATE "C"',
    "json": "JSONB", "time": "TIMESTAMPTZ", "bigint": "BIGINT", "smallint": "SMALLINT",
    "serial": "BIGSERIAL PRIMARY KEY", "now_default": " DEFAULT now()",
    "flag": _Flag("BOOLEAN"),
})


class Tx(Protocol):
    """One connection, inside a transaction or in autocommit: what shared SQL runs on.

    On SQLite these coroutines finish without ever suspending (see
    ``bot.store.sqlite.run_now``), so a whole body of statements is one step.
    """

    dialect: Dialect

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        """Run a statement; return all its rows."""
        ...

    async def fetchrow(self, sql: str, *params: Any) -> Row | None:
        """Run a statement; return its first row, or None."""
        ...

    async def fetchval(self, sql: str, *params: Any) -> Any:
        """Run a statement; return the first column of its first row, or None."""
        ...

    async def execute(self, sql: str, *params: Any) -> None:
        """Run a statement for its effect."""
        ...


class Database(Tx, Protocol):
    """An opened SQLite file or PostgreSQL pool, as the shared store code uses it.

    It is a :class:`Tx` too, in autocommit: each statement on its own (see
    :class:`Autocommit`), for code that needs no transaction.
    """

    dialect: Dialect

    async def open(self) -> None:
        """Connect and apply the migrations (a no-op when open)."""
        ...

    async def close(self) -> None:
        """Release the connection or pool (idempotent)."""
        ...

    async def ping(self) -> None:
        """Run a trivial query; raise when the database cannot be used."""
        ...

    def check_file(self) -> None:
        """Raise StoreError when what the database lives in went away (SQLite's file)."""
        ...

    async def query(self, sql: str, *params: Any, short: bool = True,
                    writes: bool | None = None) -> list[Row]:
        """Run one statement in autocommit and return its rows.

        Args:
            sql: The statement, in the shared spelling.
            *params: Its parameters.
            short: A small indexed statement (SQLite runs it on the event loop);
                False for one that may touch many rows (SQLite's worker thread).
            writes: Whether it may write; None guesses (all but ``SELECT`` do).
        """
        ...

    async def run(self, body: Callable[[Tx], Awaitable[T]], *, transaction: bool = False,
                  short: bool = True, writes: bool = True) -> T:
        """Run ``body`` on one connection, as one transaction when ``transaction``.

        A body may be run again (SQLite, after another process's lock), so it
        keeps its results in its own locals. It awaits nothing but its ``Tx``.
        """
        ...


class Autocommit:
    """:class:`Tx`'s methods for a whole database: each statement on its own, in autocommit."""

    async def query(self, sql: str, *params: Any, short: bool = True,
                    writes: bool | None = None) -> list[Row]:
        """Run one statement in autocommit (the database's own)."""
        raise NotImplementedError

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        """Run a statement; return all its rows."""
        return await self.query(sql, *params)

    async def fetchrow(self, sql: str, *params: Any) -> Row | None:
        """Run a statement; return its first row, or None."""
        rows = await self.query(sql, *params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *params: Any) -> Any:
        """Run a statement; return the first column of its first row, or None."""
        rows = await self.query(sql, *params)
        return rows[0][0] if rows else None

    async def execute(self, sql: str, *params: Any) -> None:
        """Run a statement for its effect."""
        await self.query(sql, *params)
