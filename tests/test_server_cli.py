"""The server as `dpaas-reference-server` runs it (issue 9): process limits and what it tells."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import TLS, free_port, wait_ready

LOW_SOFT_LIMIT = 256


@dataclass
class Running:
    proc: subprocess.Popen[str]
    base: str
    log: Path


def _lower_open_files_limit() -> None:
    """In the child, before exec: the soft limit a default shell often has, below the hard."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(LOW_SOFT_LIMIT, hard), hard))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("cli")
    port = free_port()
    log = tmp / "server.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reference_server", "--demo", "--port", str(port),
             "--data-dir", str(tmp / "data")],
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            preexec_fn=_lower_open_files_limit,
        )
        try:
            wait_ready(proc, f"http://127.0.0.1:{port}")
            yield Running(proc, f"http://127.0.0.1:{port}", log)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def open_files_limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-files line")


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="needs Linux /proc")
def test_the_open_files_limit_is_raised_to_the_hard_limit(running: Running) -> None:
    soft, hard = open_files_limits(running.proc.pid)
    if hard <= LOW_SOFT_LIMIT:
        pytest.skip(f"this machine's hard open-files limit ({hard}) leaves nothing to raise")
    assert soft == hard


def test_the_access_log_never_records_query_strings(running: Running) -> None:
    secret = "eyJhbGciOiJSUzI1NiJ9.secret-looking-token"
    marker = f"/log-marker-{time.monotonic_ns()}"
    r = httpx.get(f"{running.base}{marker}", params={"access_token": secret}, timeout=10,
                  verify=TLS)
    assert r.status_code == 404
    assert r.headers["server"] == "dpaas-reference-server"
    deadline = time.monotonic() + 10
    while marker not in (text := running.log.read_text()):  # written just after the answer
        assert time.monotonic() < deadline, "no access log line for the request"
        time.sleep(0.02)  # polling the file, not waiting for a fixed time
    line = next(line for line in text.splitlines() if marker in line)
    assert '"GET ' in line and " 404 " in line, line
    assert secret not in text and "access_token" not in text
