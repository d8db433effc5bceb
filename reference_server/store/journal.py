"""The append-only journal: one checksummed line per unit of work, replayed on start.

    {"journal": 2, "generation": 7, "database": "6f0c…"}  <- header, written atomically
    3f1c09ab {"ops":[["accounts",12,{...document...}]]}   <- CRC-32, then the record's JSON
    0b77e2d1 {"ops":[["refresh_families",40,null]]}      <- null: the document was removed

The header names the database the journal belongs to (the identity its snapshot also carries)
and the generation of the snapshot it follows. Each record's CRC-32 runs on from the one before
it, and the first from the header's: so a record counts only in its own journal, at its own place
(a record copied from another data dir, another generation, or moved, does not check out).

A record is durable once the fsync after its write returns, and only then is it acknowledged.
After a crash the last record may be torn: a write that never completed leaves a last line with
no newline. Only that is a torn write: replay stops before it, and the cut bytes are kept aside in
a file beside the journal (`<journal>.torn-<generation>-<offset>`), never deleted. Anything else
that does not check out (an empty file where a header is due, a header that is not one, a complete
record with a bad CRC, wherever it is) is damage, and the server refuses to start rather than
guess: an operator decides.

Format 1 (before databases had an identity: plain CRCs, no chaining) is still read, to upgrade a
data dir written by an earlier version; it is never written.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .snapshot import CorruptDatabaseError, dumps, write_atomically

log = logging.getLogger(__name__)

FORMAT = 2
LEGACY_FORMAT = 1


def encode(payload: dict[str, Any]) -> bytes:
    """One record's JSON. Raises (ValueError, UnicodeEncodeError) for what JSON cannot hold."""
    return dumps(payload).encode("utf-8")


def frame(body: bytes, chain: int) -> tuple[bytes, int]:
    """The record line for `body` after a record (or header) whose CRC is `chain`; its CRC."""
    crc = zlib.crc32(body, chain)
    return b"%08x %s\n" % (crc, body), crc


def header_line(generation: int, database: str) -> bytes:
    return dumps({"journal": FORMAT, "generation": generation, "database": database}).encode()


@dataclass
class Replay:
    """What a journal file holds: its header, its records in order, and where they end."""

    path: Path
    version: int
    generation: int
    database: str | None
    records: list[dict[str, Any]] = field(default_factory=list)
    good_bytes: int = 0
    torn: bytes = b""
    chain: int = 0  # the CRC the next record runs on from


def _decode(line: bytes, chain: int | None) -> tuple[dict[str, Any], int] | None:
    """A record line's JSON object and CRC, or None if it does not check out. `chain` None:
    the format-1 CRC, of the body alone."""
    crc, _, body = line.partition(b" ")
    if len(crc) != 8 or any(c not in b"0123456789abcdef" for c in crc):
        return None
    value = int(crc, 16)
    if value != (zlib.crc32(body) if chain is None else zlib.crc32(body, chain)):
        return None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return (payload, value) if isinstance(payload, dict) else None


def parse_header(path: Path, data: bytes) -> Replay:
    """The header of a journal file; every way it can be missing or wrong is damage."""
    if not data:
        raise CorruptDatabaseError(f"journal {path} is empty where a header is due")
    end = data.find(b"\n")
    if end <= 0:
        raise CorruptDatabaseError(f"journal {path} has no valid header")
    try:
        header = json.loads(data[:end])
    except (ValueError, RecursionError):
        header = None
    version = header.get("journal") if isinstance(header, dict) else None
    if version not in (FORMAT, LEGACY_FORMAT):
        raise CorruptDatabaseError(f"journal {path} has no valid header")
    assert isinstance(header, dict)
    generation = header.get("generation")
    if type(generation) is not int or generation < 0:
        raise CorruptDatabaseError(f"journal {path} has no valid generation")
    database = header.get("database")
    if version == FORMAT and (not isinstance(database, str) or not database):
        raise CorruptDatabaseError(f"journal {path} has no valid database identity")
    chain = zlib.crc32(data[:end]) if version == FORMAT else 0
    return Replay(path, version, generation, database if version == FORMAT else None,
                  good_bytes=end + 1, chain=chain)


def parse(path: Path, data: bytes) -> Replay:
    """Header and records; a last line without its newline is the torn tail, anything else
    that does not check out refuses the start."""
    replay = parse_header(path, data)
    chain: int | None = replay.chain if replay.version == FORMAT else None
    pos = replay.good_bytes
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end == -1:  # the last line never got its newline: a write that never completed
            replay.torn = data[pos:]
            break
        decoded = _decode(data[pos:end], chain)
        if decoded is None:
            raise CorruptDatabaseError(
                f"journal {path} is damaged: record {len(replay.records) + 1} (byte {pos}) "
                "is complete but does not check out"
            )
        record, crc = decoded
        replay.records.append(record)
        if chain is not None:
            chain = crc
        pos = end + 1
    replay.good_bytes = pos
    replay.chain = chain if chain is not None else 0
    return replay


def keep_aside(replay: Replay) -> Path:
    """Write the torn tail to a file of its own beside the journal (durably); its path."""
    base = f"{replay.path.name}.torn-{replay.generation}-{replay.good_bytes}"
    target = replay.path.with_name(base)
    n = 1
    while target.exists():
        n += 1
        target = replay.path.with_name(f"{base}.{n}")
    write_atomically(target, replay.torn)
    return target


class Journal:
    """The open journal file of one database: append records, make them durable, cut back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0  # bytes in the file, all of them durable except a failed write's tail
        self.records = 0  # records written since the header
        self.failed: OSError | None = None  # a failed write could not be cut back off
        self._fd: int | None = None
        self._chain = 0

    def load(self) -> Replay | None:
        """Read the journal, changing nothing; None if there is no file at all."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return parse(self.path, data)

    def open(self, replay: Replay) -> None:
        """Append after the records `load` returned; a torn tail is first kept aside in a file of
        its own, then cut off (durably)."""
        assert replay.version == FORMAT, "a format-1 journal is absorbed, never appended to"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            if replay.torn:
                kept = keep_aside(replay)
                log.warning(
                    "journal %s: a torn tail of %d bytes after %d good records (the last write "
                    "before a crash never completed) is cut off and kept in %s",
                    self.path, len(replay.torn), len(replay.records), kept,
                )
                os.ftruncate(fd, replay.good_bytes)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.size = replay.good_bytes
        self.records = len(replay.records)
        self._chain = replay.chain

    def start(self, generation: int, database: str) -> None:
        """Replace the journal with an empty one of `generation` (atomically)."""
        self.close()
        header = header_line(generation, database)
        write_atomically(self.path, header + b"\n")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self.size = len(header) + 1
        self.records = 0
        self._chain = zlib.crc32(header)

    def append(self, bodies: list[bytes], before_sync: Callable[[], None] | None = None) -> None:
        """Write records and fsync them; on failure cut the file back to its durable part.
        `before_sync` is called between the write and the fsync (`thread.py`'s previews: the
        last thing before the fsync, which lets other threads run)."""
        assert self._fd is not None, "journal is not open"
        chain = self._chain
        lines = []
        for body in bodies:
            line, chain = frame(body, chain)
            lines.append(line)
        data = b"".join(lines)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            if before_sync is not None:
                before_sync()
            os.fsync(self._fd)
        except BaseException:
            try:
                os.ftruncate(self._fd, self.size)
            except OSError as exc:  # garbage may stay before the next record: stop writing
                self.failed = exc
            raise
        self.size += len(data)
        self.records += len(bodies)
        self._chain = chain

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
