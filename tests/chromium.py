"""Headless Chromium driven over the DevTools protocol, for tests that need a real browser.

The protocol runs over a pipe (`--remote-debugging-pipe`: fd 3 in, fd 4 out, one JSON message
per NUL-terminated chunk), so no port is opened and nothing polls for the browser to come up.
Waiting for the page happens inside the page: `wait_for` evaluates a promise that resolves when a
JavaScript condition holds, bounded by a deadline.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
from itertools import count
from pathlib import Path
from types import TracebackType
from typing import Any

BINARIES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
)
REPLY_TIMEOUT = 30.0

#: Resolves with `check()`'s value once it is truthy (an object, such as an element, as `true`);
#: rejects after `ms` milliseconds.
WAIT_FOR = """(check, ms) => new Promise((resolve, reject) => {
  const deadline = Date.now() + ms;
  const poll = () => {
    let value;
    try { value = check(); } catch (e) { value = undefined; }
    if (value) { resolve(typeof value === "object" ? true : value); return; }
    if (Date.now() > deadline) { reject(new Error("timed out waiting for " + check)); return; }
    setTimeout(poll, 25);
  };
  poll();
})"""


def find_chromium() -> str | None:
    return next((path for name in BINARIES if (path := shutil.which(name))), None)


class BrowserError(Exception):
    """The browser answered a command with an error, or a page script threw."""


class Chromium:
    """One headless browser with one page; a context manager."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:
            """In the child: the protocol's fds 3 and 4 (moved out of the way first).

            dup2 makes them inheritable; every other fd of ours is close-on-exec (PEP 446), which
            is why the process is started with close_fds=False.
            """
            inbound = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
            outbound = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(inbound, 3)
            os.dup2(outbound, 4)

        self._process = subprocess.Popen(
            [binary, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._ids = count(1)
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        #: Console messages and log entries of the page, as (level, text).
        self.messages: list[tuple[str, str]] = []
        self._reader = threading.Thread(target=self._read, name="chromium-cdp", daemon=True)
        self._reader.start()
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        attached = self.send("Target.attachToTarget", targetId=target, flatten=True)
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    # ------------------------------------------------------------------ protocol

    def _read(self) -> None:
        buffer = b""
        with open(self._from_browser, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    self._dispatch(json.loads(raw))
        with self._lock:  # the browser is gone: wake every waiting caller
            for waiting in self._replies.values():
                waiting.put({"error": {"message": "the browser exited"}})

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            with self._lock:
                waiting = self._replies.get(message["id"])
            if waiting is not None:
                waiting.put(message)
            return
        params = message.get("params", {})
        if message.get("method") == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.messages.append((params["type"], text))
        elif message.get("method") == "Log.entryAdded":
            self.messages.append((params["entry"]["level"], params["entry"]["text"]))

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """One command; its result, or BrowserError."""
        ident = next(self._ids)
        waiting: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1)
        with self._lock:
            self._replies[ident] = waiting
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        try:
            reply = waiting.get(timeout=REPLY_TIMEOUT)
        except queue.Empty as exc:
            raise BrowserError(f"no answer to {method} in {REPLY_TIMEOUT} s") from exc
        finally:
            with self._lock:
                self._replies.pop(ident, None)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """A command to the page."""
        return self.send(method, self._session, **params)

    # ------------------------------------------------------------------ page helpers

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression; promises are awaited."""
        result = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(text)
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout_ms: int = 15000) -> Any:
        """Wait, in the page, until the JavaScript expression `condition` is truthy."""
        return self.evaluate(f"({WAIT_FOR})(() => ({condition}), {timeout_ms})")

    def type_text(self, text: str) -> None:
        """Type into the focused element, as a person would (React sees real input events)."""
        self.call("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        """What the window shows (1280x1600), as a PNG file."""
        data = self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            self._process.kill()
        try:
            self._process.wait(timeout=REPLY_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=REPLY_TIMEOUT)
        os.close(self._to_browser)
        self._reader.join(timeout=REPLY_TIMEOUT)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
