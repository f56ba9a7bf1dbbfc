"""A SQLite database another process holds locked (``BEGIN EXCLUSIVE``), as a real outage.

Used to show that a turn whose state cannot be stored is answered 503 and
leaves nothing behind: the bot's writes fail exactly as they do when another
process (a backup, a second bot started by mistake) holds the file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def sqlite_locked(database: Path) -> Iterator[None]:
    """Hold ``database`` locked by another process until the block ends."""
    locker = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"c = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == b"locked"
        yield
    finally:
        locker.kill()
        locker.wait()
