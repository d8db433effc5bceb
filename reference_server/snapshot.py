"""The database files: TinyDB JSON documents, replaced atomically on every write.

TinyDB is neither thread-safe nor crash-safe out of the box: `JSONStorage` truncates the file
and rewrites it in place, so a crash mid-write loses the database, and its query cache hands
out shared objects. Here every write goes to a temp file that is fsynced and renamed over the
database, and `read()` always returns a fresh copy.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from .config import StartupError


class CorruptDatabaseError(StartupError):
    """The database file exists but is not a valid TinyDB JSON document."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicJSONStorage(Storage):
    """Write-through TinyDB storage: temp file, fsync, rename, fsync dir.

    The last committed JSON text is kept in memory; `read()` parses it afresh, so callers
    never alias the committed state. Inside `batch()` writes are collected and committed
    as ONE atomic write at the end (or dropped if the block raises).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.writes = 0  # number of committed disk writes, for tests
        self._committed: str | None = None
        self._pending: str | None = None
        self._depth = 0
        if self.path.exists():
            text = self.path.read_text(encoding="utf-8")
            self._validate(text)
            self._committed = text

    def _validate(self, text: str) -> None:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CorruptDatabaseError(
                f"database file {self.path} is not valid JSON: {exc}"
            ) from exc
        if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
            raise CorruptDatabaseError(f"database file {self.path} is not a TinyDB document")

    def read(self) -> dict[str, dict[str, Any]] | None:
        text = self._pending if self._pending is not None else self._committed
        return None if text is None else json.loads(text)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if self._depth:
            self._pending = text
        else:
            self._commit(text)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes into one atomic disk write; discard them all if the block raises."""
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._pending = None
            raise
        self._depth -= 1
        if self._depth == 0 and self._pending is not None:
            text, self._pending = self._pending, None
            self._commit(text)

    def _commit(self, text: str) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)
        self._committed = text
        self.writes += 1
