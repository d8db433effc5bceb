"""The append-only journal: one checksummed line per unit of work, replayed on start.

    {"journal": 1, "generation": 7}                     <- header, written atomically
    3f1c09ab {"ops":[["accounts",12,{...document...}]]}  <- CRC-32 of the JSON, the JSON
    0b77e2d1 {"ops":[["refresh_tokens",40,null]]}       <- null: the document was removed

A record is durable once the fsync after its write returns, and only then is it acknowledged.
After a crash the last records may be torn (cut short, or garbage where the write did not land):
like SQLite's WAL and PostgreSQL's redo, replay stops there and the torn tail is cut off and
logged. A bad record with good records after it is not a tear but damage, and the server refuses
to start rather than guess.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .snapshot import CorruptDatabaseError, dumps, write_atomically

log = logging.getLogger(__name__)

FORMAT = 1


def encode(payload: dict[str, Any]) -> bytes:
    """One record line. Raises (ValueError, UnicodeEncodeError) for what JSON cannot hold."""
    body = dumps(payload).encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _decode(line: bytes) -> dict[str, Any] | None:
    crc, _, body = line.partition(b" ")
    if len(crc) != 8 or not crc.isalnum() or int(crc, 16) != zlib.crc32(body):
        return None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


@dataclass
class Replay:
    """What a journal file holds: its generation and its records, in order."""

    generation: int
    records: list[dict[str, Any]] = field(default_factory=list)
    good_bytes: int = 0
    torn_bytes: int = 0


def parse(path: Path, data: bytes) -> Replay:
    """Split a journal into records; a tail that does not check out is reported as torn."""
    end = data.find(b"\n")
    try:
        header = json.loads(data[:end]) if end > 0 else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("journal") != FORMAT:
        raise CorruptDatabaseError(f"journal {path} has no valid header")
    generation = header.get("generation")
    if type(generation) is not int or generation < 0:
        raise CorruptDatabaseError(f"journal {path} has no valid generation")
    replay = Replay(generation)
    pos = good = end + 1
    bad_at: int | None = None
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end == -1:  # the last line never got its newline: torn
            bad_at = pos if bad_at is None else bad_at
            break
        record = _decode(data[pos:end])
        if record is None:
            bad_at = pos if bad_at is None else bad_at
        elif bad_at is not None:
            raise CorruptDatabaseError(
                f"journal {path} is damaged at byte {bad_at}: good records follow a bad one"
            )
        else:
            replay.records.append(record)
            good = end + 1
        pos = end + 1
    replay.good_bytes = good
    replay.torn_bytes = len(data) - good
    return replay


class Journal:
    """The open journal file of one database: append records, make them durable, cut back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0  # bytes in the file, all of them durable except a failed write's tail
        self.records = 0  # records written since the header
        self.failed: OSError | None = None  # a failed write could not be cut back off
        self._fd: int | None = None

    def load(self) -> Replay | None:
        """Read the journal, changing nothing; None if there is none."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return parse(self.path, data) if data else None

    def open(self, replay: Replay) -> None:
        """Append after the records `load` returned, cutting off a torn tail first (durably)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        if replay.torn_bytes:
            log.warning(
                "journal %s: discarding a torn tail of %d bytes after %d good records "
                "(the last write before a crash never completed)",
                self.path,
                replay.torn_bytes,
                len(replay.records),
            )
            os.ftruncate(fd, replay.good_bytes)
            os.fsync(fd)
        self._fd = fd
        self.size = replay.good_bytes
        self.records = len(replay.records)

    def start(self, generation: int) -> None:
        """Replace the journal with an empty one of `generation` (atomically)."""
        self.close()
        header = json.dumps({"journal": FORMAT, "generation": generation}).encode() + b"\n"
        write_atomically(self.path, header)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self.size = len(header)
        self.records = 0

    def append(self, data: bytes, records: int) -> None:
        """Write records and fsync them; on failure cut the file back to its durable part."""
        assert self._fd is not None, "journal is not open"
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except BaseException:
            try:
                os.ftruncate(self._fd, self.size)
            except OSError as exc:  # garbage may stay before the next record: stop writing
                self.failed = exc
            raise
        self.size += len(data)
        self.records += records

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
