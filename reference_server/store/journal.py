"""The append-only journal: one checksummed line per unit of work, replayed on start.

    {"journal": 2, "generation": 7, "database": "6f0c…"}  <- header, written atomically
    3f1c09ab {"ops":[["accounts",12,{...document...}]]}   <- CRC-32, then the record's JSON
    0b77e2d1 {"ops":[["refresh_families",40,null]]}      <- null: the document was removed

The header names the database the journal belongs to (the identity its snapshot also carries)
and the generation of the snapshot it follows. Each record's CRC-32 runs on from the one before
it, and the first from the header's: so a record counts only in its own journal, at its own place
(a record copied from another data dir, another generation, or moved, does not check out).

The file is grown ahead of its records, zero-filled and fsynced, `PREALLOCATE` bytes at a time,
and records are written over the zeros: writing a record then changes no metadata (not even the
file's size), so `fdatasync` is enough to make it durable, and it is cheaper than `fsync`, which
would also journal the size and times (measured on ext4: about 0.11 ms against 0.16 ms). A
record is durable once the fdatasync after its write returns, and only then is it acknowledged.
Zeros after the last record are the room left (NUL is never in a record: JSON escapes it); a
clean close cuts them off.

After a crash the last write may be torn: a write that never completed leaves a last line with
no newline, or one whose bytes were partly never written (the zeros under it show through, as NUL
bytes) with nothing but zeros after it. Only that is a torn write: replay stops before it, and
the cut bytes (up to the last that is not a zero) are kept aside in a file beside the journal
(`<journal>.torn-<generation>-<offset>`), never deleted. Anything else that does not check out
(an empty file where a header is due, a header that is not one, a complete record with no NUL
byte and a bad CRC, wherever it is, a line with NUL bytes that records follow) is damage, and
the server refuses to start rather than guess: an operator decides.

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

from .overlap import sync_during
from .snapshot import CorruptDatabaseError, dumps, write_atomically

log = logging.getLogger(__name__)

FORMAT = 2
LEGACY_FORMAT = 1
#: Bytes the file grows by at a time, ahead of its records (zero-filled, then fsynced).
PREALLOCATE = 256 * 1024


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
    while pos < len(data) and data[pos] != 0:  # a zero: the room left after the last record
        end = data.find(b"\n", pos)
        if end == -1 or b"\0" in data[pos:end]:  # a write that never completed
            if end != -1 and data[end + 1:].strip(b"\0"):
                # Zeros inside a line that other records follow: not the last write torn, but
                # damage with acknowledged records after it, which are never set aside.
                raise CorruptDatabaseError(
                    f"journal {path} is damaged: record {len(replay.records) + 1} (byte {pos}) "
                    "holds zeros and records follow it"
                )
            replay.torn = data[pos:].rstrip(b"\0")
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
    if not replay.torn and data[pos:].strip(b"\0"):  # zeros, then what a torn write left
        rest = data[pos:].strip(b"\0")
        line_end = rest.find(b"\n")
        if line_end != -1 and rest[line_end + 1:].strip(b"\0"):
            raise CorruptDatabaseError(
                f"journal {path} is damaged: zeros at byte {pos}, and records follow them")
        replay.torn = data[pos:].rstrip(b"\0")
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
        self.size = 0  # bytes of header and records, all durable except a failed write's tail
        self.capacity = 0  # bytes in the file: the records, then zeros
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
        fd = os.open(self.path, os.O_WRONLY)
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
            capacity = os.fstat(fd).st_size  # beyond the records: zeros (`parse` saw to it)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.size = replay.good_bytes
        self.capacity = capacity
        self.records = len(replay.records)
        self._chain = replay.chain

    def start(self, generation: int, database: str) -> None:
        """Replace the journal with an empty one of `generation` (atomically)."""
        self.close(trim=False)
        header = header_line(generation, database)
        write_atomically(self.path, header + b"\n")
        self._fd = os.open(self.path, os.O_WRONLY)
        self.size = self.capacity = len(header) + 1
        self.records = 0
        self._chain = zlib.crc32(header)

    def append(self, bodies: list[bytes], before_sync: Callable[[], None] | None = None,
               during_sync: Callable[[], None] | None = None) -> None:
        """Write records over the zeros and fdatasync them (growing the file first if they do
        not fit); on failure cut the file back to its durable part. `before_sync` is called
        between the write and the sync (`thread.py`'s previews: the last thing before the sync,
        which lets other threads run); `during_sync` while the sync runs on a helper thread
        (`overlap.py`: work that holds the GIL), and this returns only once the sync has."""
        assert self._fd is not None, "journal is not open"
        chain = self._chain
        lines = []
        for body in bodies:
            line, chain = frame(body, chain)
            lines.append(line)
        data = b"".join(lines)
        try:
            if self.size + len(data) > self.capacity:
                self._grow(self.size + len(data))
            view, at = memoryview(data), self.size
            while view:
                written = os.pwrite(self._fd, view, at)
                view, at = view[written:], at + written
            if before_sync is not None:
                before_sync()
            if during_sync is None:
                os.fdatasync(self._fd)
            else:
                sync_during(self._fd, during_sync)
        except BaseException:
            try:
                os.ftruncate(self._fd, self.size)  # the zeros go too: the next write grows it
                self.capacity = self.size
            except OSError as exc:  # garbage may stay before the next record: stop writing
                self.failed = exc
            raise
        self.size += len(data)
        self.records += len(bodies)
        self._chain = chain

    def _grow(self, needed: int) -> None:
        """Zeros up to the next multiple of PREALLOCATE at or past `needed`, made durable with
        the file's new size (a full fsync, once per PREALLOCATE bytes)."""
        assert self._fd is not None
        target = -(-needed // PREALLOCATE) * PREALLOCATE
        zeros = bytes(min(target - self.capacity, PREALLOCATE))
        at = self.capacity
        while at < target:
            at += os.pwrite(self._fd, memoryview(zeros)[: target - at], at)
        os.fsync(self._fd)
        self.capacity = target

    def close(self, trim: bool = True) -> None:
        """Close the file; `trim`: first cut off the zeros left after the records (a journal
        read by an earlier version, or by a person, then ends with its last record)."""
        if self._fd is None:
            return
        try:
            if trim and self.failed is None and self.capacity > self.size:
                os.ftruncate(self._fd, self.size)
                os.fsync(self._fd)
                self.capacity = self.size
        except OSError as exc:  # the zeros stay: harmless, the next start reads past them
            log.warning("journal %s: could not cut the room left after the records: %s",
                        self.path, exc)
        finally:
            os.close(self._fd)
            self._fd = None
