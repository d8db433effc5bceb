"""KEY-2 and KEY-8 over the whole run: every key the target issued, remembered so that no later
answer may show its secret, and no later key may repeat it.

A key's `secret_key` may appear in the answer that issues it and in no other (KEY-2): the suite
knows the exact value, so it looks for that value, not for a shape. Every answer the client reads
afterwards, in any scenario, is searched for every secret issued so far (`ApiClient` asks
`leaked_in`); so are the secrets of the configured `[service_keys]`. No two keys may share an
`access_key` or a `secret_key` (KEY-8): each new key is checked against all earlier ones.

Under pytest-xdist the workers share one file in the directory of the run's base temporary
directory (as the turns lock does), each appending what it was issued and reading what the
others appended since it last looked (a `stat` per answer when nothing is new). It is bounded:
at most MAX_KEYS keys (a run issues about a hundred), each line short. The file lives as long
as pytest's temporary directories do, in a directory only this user may read; the keys in it are
revoked by the suite at the end of the scenario that issued them.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MAX_KEYS = 4096
#: one line per key: kind, tab, the value as hex, newline
FILE_NAME = "dpaas-issued-keys"
SECRET, ACCESS = "s", "a"


@dataclass(frozen=True)
class Seen:
    kind: str
    value: str


class IssuedKeys:
    """What the run was issued; `shared` is the workers' common file (None: this process only)."""

    def __init__(self, shared: Path | None = None, configured: Iterable[str] = ()) -> None:
        self.shared = shared
        self._secrets: set[str] = {s for s in configured if s}
        self._access: set[str] = set()
        self._offset = 0
        self._lock = threading.Lock()
        self._needles: tuple[bytes, ...] = tuple(s.encode("utf-8") for s in self._secrets)

    def __len__(self) -> int:
        self._catch_up()
        return len(self._secrets) + len(self._access)

    def add(self, access_key: str, secret_key: str) -> list[str]:
        """Record a new key; what it repeats of earlier keys (KEY-8), as readable lines."""
        self._catch_up()
        with self._lock:
            repeats = []
            if access_key in self._access:
                repeats.append(f"its access_key {access_key!r} was issued before")
            if secret_key in self._secrets:
                repeats.append("its secret_key was issued before, for another key")
            if len(self._secrets) + len(self._access) < 2 * MAX_KEYS:
                self._remember([Seen(ACCESS, access_key), Seen(SECRET, secret_key)])
                self._append([Seen(ACCESS, access_key), Seen(SECRET, secret_key)])
            return repeats

    def leaked_in(self, content: bytes) -> bool:
        """Whether a body holds a secret issued (or configured) earlier in the run."""
        self._catch_up()
        needles = self._needles
        return bool(content) and any(n in content for n in needles)

    # --- the shared file ---------------------------------------------------------------------

    def _remember(self, seen: Iterable[Seen]) -> None:
        for item in seen:
            (self._secrets if item.kind == SECRET else self._access).add(item.value)
        self._needles = tuple(s.encode("utf-8") for s in self._secrets if s)

    def _append(self, seen: list[Seen]) -> None:
        if self.shared is None:
            return
        text = "".join(f"{s.kind}\t{s.value.encode('utf-8').hex()}\n" for s in seen)
        fd = os.open(self.shared, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # whole lines, never interleaved
            os.write(fd, text.encode("ascii"))
        finally:
            os.close(fd)

    def _catch_up(self) -> None:
        """Read what the other workers appended since the last look (whole lines only)."""
        if self.shared is None:
            return
        try:
            size = os.stat(self.shared).st_size
        except FileNotFoundError:
            return
        if size <= self._offset:
            return
        with self._lock, open(self.shared, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read(size - self._offset)
            end = chunk.rfind(b"\n") + 1
            self._offset += end
            seen = []
            for line in chunk[:end].splitlines():
                kind, _, value = line.partition(b"\t")
                try:
                    seen.append(Seen(kind.decode("ascii"), bytes.fromhex(value.decode()).decode()))
                except (UnicodeDecodeError, ValueError):
                    continue
            self._remember(seen)
