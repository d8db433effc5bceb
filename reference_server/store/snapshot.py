"""The snapshot file: the whole database as one TinyDB JSON document, replaced atomically.

`dpaas.json` and `tokens.json` keep the format TinyDB's JSONStorage (and every earlier version of
this server) writes: `{"table": {"doc id": {document}}}`. What the journal needs rides along as the
pseudo-table `_journal`, which older readers take for one more table: the generation of the journal
that follows the snapshot, and the database's identity (a random id given when the database is
created, which its journal's header repeats). A snapshot written before databases had an identity
has none; the store gives it one when it first opens it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import StartupError

Tables = dict[str, dict[str, dict[str, Any]]]

META_TABLE = "_journal"
_DOC_ID = re.compile(r"[1-9][0-9]{0,17}")


class CorruptDatabaseError(StartupError):
    """A database file exists but cannot be trusted; the server refuses to start on it."""


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (POSIX needs the directory itself synced)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, rename over `path`, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def dumps(value: Any) -> str:
    """Strict, compact JSON: no NaN or Infinity, so whatever is stored can be served back."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass
class Snapshot:
    tables: Tables
    generation: int  # of the journal that follows it
    database: str | None  # None: written before databases had an identity
    size: int


def read_snapshot(path: Path) -> Snapshot | None:
    """The tables, the journal generation that follows them and the database's identity; None if
    there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise CorruptDatabaseError(f"database file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise CorruptDatabaseError(f"database file {path} is not a TinyDB document")
    meta = data.pop(META_TABLE, {}).get("1", {})
    generation = meta.get("generation", 0) if isinstance(meta, dict) else None
    database = meta.get("database") if isinstance(meta, dict) else None
    if type(generation) is not int or generation < 0 or (
        database is not None and (not isinstance(database, str) or not database)
    ):
        raise CorruptDatabaseError(f"database file {path} has a bad {META_TABLE} entry")
    for name, table in data.items():
        for doc_id, doc in table.items():
            if not _DOC_ID.fullmatch(doc_id) or not isinstance(doc, dict):
                raise CorruptDatabaseError(
                    f"database file {path}: table {name!r} has a bad document {doc_id!r}"
                )
    return Snapshot(data, generation, database, len(raw))


def write_snapshot(path: Path, tables: Tables, generation: int, database: str) -> int:
    """Replace the snapshot with `tables`, to be followed by journal `generation`; its size."""
    meta = {"generation": generation, "database": database}
    text = dumps({**tables, META_TABLE: {"1": meta}})
    data = text.encode("utf-8")
    write_atomically(path, data)
    return len(data)
