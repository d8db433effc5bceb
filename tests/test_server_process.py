"""The real server process: SIGKILL mid-write durability, clean SIGTERM, refusal to start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from reference_server.demo import DEMO_PRINCIPALS
from reference_server.store import MAIN_DB, TOKENS_DB
from tests.support import TLS, free_port, wait_ready


def spawn(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "reference_server", "--port", str(port)]
    return subprocess.Popen(
        [*cmd, "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def server(data_dir: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    proc = spawn(data_dir, port, *extra)
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}")
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def login(base: str) -> dict[str, str]:
    p = DEMO_PRINCIPALS["admin"]
    r = httpx.post(
        f"{base}/authentication/login",
        json={"email": p.email, "password": p.password, "organization_slug": p.organization_slug},
        timeout=10, verify=TLS,
    )
    assert r.status_code == 200, r.text
    return r.json()


def all_account_ids(base: str, headers: dict[str, str]) -> set[str]:
    ids: set[str] = set()
    for page in range(1, 1000):
        r = httpx.get(
            f"{base}/accounts",
            params={"page": page, "quantity": 100},
            headers=headers,
            timeout=10, verify=TLS,
        )
        results = r.json()["results"]
        if not results:
            return ids
        ids |= {a["id"] for a in results}
    raise AssertionError("too many pages")


def test_sigkill_mid_write_loses_no_acknowledged_write(tmp_path: Path) -> None:
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    with server(tmp_path, "--demo") as (proc, base):
        tokens = login(base)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        rotated = httpx.post(
            f"{base}/authentication/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            timeout=10, verify=TLS,
        ).json()

        def writer(n: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=5) as c:
                for i in range(10_000):
                    if stop.is_set():
                        return
                    try:
                        r = c.post("/accounts", json={"name": f"w{n}-{i}"})
                    except httpx.TransportError:
                        return
                    if r.status_code == 201:
                        with lock:
                            acked.append(r.json()["id"])

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: writers are still posting
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        assert len(acked) >= 60

    json.loads((tmp_path / MAIN_DB).read_text())  # the snapshot is valid JSON
    journal = (tmp_path / MAIN_DB).with_suffix(".journal")
    assert journal.read_bytes().count(b"\n") > len(acked), "the writes went to the journal"
    with open(journal, "ab") as fh:  # what a power cut mid-write could leave behind
        fh.write(b'0badc0de {"ops":[["accounts",99999,{"name":"to')
    with server(tmp_path, "--demo") as (_, base):
        headers = {"Authorization": f"Bearer {login(base)['access_token']}"}
        present = all_account_ids(base, headers)
        missing = set(acked) - present
        assert not missing, f"{len(missing)} acknowledged accounts lost"
        # the rotated-away refresh token stays dead after the crash, and replaying it
        # revokes the family (no resurrection)
        old = httpx.post(
            f"{base}/authentication/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            timeout=10, verify=TLS,
        )
        assert old.status_code == 401
        newest = httpx.post(
            f"{base}/authentication/refresh",
            json={"refresh_token": rotated["refresh_token"]},
            timeout=10, verify=TLS,
        )
        assert newest.status_code == 401


def test_sigterm_exits_cleanly(tmp_path: Path) -> None:
    with server(tmp_path, "--demo") as (proc, base):
        login(base)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        out, _ = proc.communicate(timeout=5)
        assert "user@example.com" in out, "demo principals are printed when seeding"
        assert f"{base}/docs" in out, "--demo prints the docs URL"
    json.loads((tmp_path / MAIN_DB).read_text())


def test_refuses_to_start_cleanly(tmp_path: Path) -> None:
    with server(tmp_path) as (_, base):
        second = spawn(tmp_path, free_port())
        _, err = second.communicate(timeout=30)
        assert second.returncode == 2
        assert "locked" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1

        busy_port = int(base.rsplit(":", 1)[1])
        other = spawn(tmp_path / "other", busy_port)
        _, err = other.communicate(timeout=30)
        assert other.returncode == 2 and "Traceback" not in err

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / MAIN_DB).write_text('{"accounts": {"1": {"name": "half')
    proc = spawn(corrupt, free_port())
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "not valid JSON" in err and "Traceback" not in err
    assert (corrupt / MAIN_DB).read_text().endswith('"half'), "never wiped"

    edited = tmp_path / "edited"
    edited.mkdir()
    record = {"hash": "ab" * 32, "family_id": "f", "user_id": "u", "org_id": "o", "used_at": None}
    (edited / TOKENS_DB).write_text(json.dumps({"refresh_tokens": {"1": record}}))
    proc = spawn(edited, free_port())
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and "'expires_at'" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_refuses_unwritable_data_dir(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    proc = spawn(ro / "data", free_port())
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "Traceback" not in err
