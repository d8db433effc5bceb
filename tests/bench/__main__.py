"""python -m tests.bench: what one request costs, how the costs grow with the data, suite times.

First, one request of each kind with one client (`per_request.py`): each operation's p50 as a
multiple of the loopback floor, an ordinary aiohttp handler measured in the same run
(`--only-per-request` measures just that, in under a minute). Then, for 100, 1,000 and 10,000
accounts in the measured organization (and 100 next to a neighbour organization holding
10,000), it seeds a fresh data dir offline (`seed.py`), starts the real server as its own
process and measures create, list, login and refresh, and get, update (PATCH) and delete by id,
with 1 and 16 clients. Then: one refresh chain rotated 100 and 20,000 times, each on a server of
its own (its latency, the server's memory, the token database on disk while it runs and after a
clean stop), login against the bound password hashing sets, and the wall time of `pytest steps`
and of `pytest`. It prints a table and writes everything as JSON. `--only-chain` measures the
refresh chains alone. `--server-src DIR` runs the server from another source tree (an earlier
version), so that before and after are measured by the same benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from reference_server.config import Settings
from reference_server.demo import DEMO_PRINCIPALS
from reference_server.passwords import Passwords
from tests.bench import per_request, report, signed
from tests.bench.load import Sample, run_load
from tests.bench.seed import BENCH_PASSWORD, ORG, Layout, bench_email, documents, write
from tests.support import ServerDidNotStart, free_port, wait_ready

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
CLIENTS = (1, 16)
#: requests per operation for 1 client and for 16 clients
COUNTS = {
    "list": (200, 640),
    "create": (40, 160),
    "login": (20, 128),
    "refresh": (200, 640),
    "get": (200, 640),
    "update": (40, 160),
    "delete": (40, 160),  # the accounts the creates made: as many as they made
}


# --- the server process ----------------------------------------------------------------------


#: Where the server's code comes from: this tree, unless `--server-src` names another one (the
#: same benchmark, run against an earlier version's server).
SERVER_SRC: Path | None = None


@contextmanager
def process(command: list[str], base: str, log_path: Path,
            src: Path | None = None) -> Iterator[tuple[float, int]]:
    """A server process answering at `base`; yields how long it took to start and its process
    id. Stopped with SIGTERM, so it shuts down cleanly (journals folded).

    Its log (one line per request) goes to a file: a pipe nobody reads would fill and stall it.
    `src`: run it from that source tree instead of this one.
    """
    env = None
    if src is not None:
        env = {**os.environ, "PYTHONPATH": str(src)}
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log,
                                cwd=src, env=env)
    try:
        try:
            wait_ready(proc, base, START_TIMEOUT)
        except ServerDidNotStart as exc:
            tail = log_path.read_text(errors="replace")[-500:]
            raise SystemExit(f"{exc}: {tail}") from None
        yield time.perf_counter() - started, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@contextmanager
def server(data_dir: Path, src: Path | None = None) -> Iterator[tuple[str, float, int]]:
    """The reference server on a free port; yields its base URL, how long it took to start and
    its process id. `src`: the source tree to run it from (default `--server-src`, else this
    one)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "reference_server", "--port", str(port),
               "--data-dir", str(data_dir)]
    with process(command, base, data_dir.with_name(data_dir.name + ".log"),
                 src or SERVER_SRC) as (startup, pid):
        yield base, startup, pid


@contextmanager
def floor_server(tmp: Path) -> Iterator[str]:
    """The loopback floor and the bare writes (`floor.py`) on a free port, its records file in
    `tmp` (beside the data dirs); yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tests.bench.floor", str(port), str(tmp / "bare-records")]
    with process(command, base, tmp / "floor.log", None):
        yield base


def filesystem(path: Path) -> str:
    """The file system `path` is on, as /proc/mounts names it (the data dir's disk matters:
    a create waits for an fsync)."""
    best = ("", "unknown", "unknown")
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    resolved = str(path.resolve())
    for line in mounts:
        device, mount, kind = line.split()[:3]
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > len(best[0]):
            best = (mount, kind, device)
    return f"{best[1]} ({best[2]} mounted on {best[0]})"


def per_request_costs(tmp: Path, hashes: dict[str, str], rounds: int,
                      batch: int, compare_src: Path | None = None) -> dict[str, Any]:
    """One client's p50 per operation against the floor, on a server holding 100 accounts;
    with `compare_src`, also on a server run from that tree, holding the same data, in the
    same rounds."""
    data_dir = tmp / "per-request"
    tables = documents(Layout(100), hashes, time.time())
    write(data_dir, tables)
    with ExitStack() as stack:
        floor_base = stack.enter_context(floor_server(tmp))
        base, _startup, _pid = stack.enter_context(server(data_dir))
        other_base = None
        if compare_src is not None:
            other_dir = tmp / "per-request-other"
            write(other_dir, tables)
            other_base, _startup, _pid = stack.enter_context(server(other_dir, compare_src))
        out = per_request.measure(base, floor_base, ADMIN, rounds, batch,
                                  tmp / "fsync-probe", other_base)
    return out | {"data_dir": str(data_dir), "filesystem": filesystem(data_dir),
                  "server_src": str(SERVER_SRC or ROOT),
                  "other_src": str(compare_src) if compare_src is not None else None}


# --- the measured operations -----------------------------------------------------------------


def credentials(email: str, password: str) -> dict[str, str]:
    return {"email": email, "password": password, "organization_slug": ORG}


ADMIN = credentials(DEMO_PRINCIPALS["admin"].email, DEMO_PRINCIPALS["admin"].password)


async def _login(session: aiohttp.ClientSession, body: dict[str, str]) -> dict[str, Any]:
    async with session.post("/authentication/login", json=body) as r:
        if r.status != 200:
            raise SystemExit(f"login failed: {r.status} {await r.text()}")
        return await r.json()


async def measure_level(base: str, accounts: int, cap_s: float, seeded: list[str]
                        ) -> list[Sample]:
    """Create, list, login and refresh, and get, update and delete by id, with 1 and 16
    clients against one running server. Gets and updates spread over the `seeded` accounts
    (not the default); deletes take the accounts the creates made."""
    samples: list[Sample] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base, connector=connector) as session:
        admin = await _login(session, ADMIN)
        auth = {"Authorization": f"Bearer {admin['access_token']}"}

        async def list_page(_k: int, _i: int) -> int:
            async with session.get("/accounts", headers=auth) as r:
                await r.read()
                return r.status

        created: list[str] = []

        async def create(k: int, i: int) -> int:
            body = {"name": f"Bench {k}-{i}", "metadata": {"client": k}}
            async with session.post("/accounts", json=body, headers=auth) as r:
                answer = await r.json()
                if r.status == 201:
                    created.append(answer["id"])
                return r.status

        def some_seeded(k: int, i: int) -> str:
            return seeded[(k * 7919 + i * 104729) % len(seeded)]

        async def get_one(k: int, i: int) -> int:
            async with session.get(f"/accounts/{some_seeded(k, i)}", headers=auth) as r:
                await r.read()
                return r.status

        async def update_one(k: int, i: int) -> int:
            body = {"name": f"Bench updated {k}-{i}"}
            async with session.patch(f"/accounts/{some_seeded(k, i)}", json=body,
                                     headers=auth) as r:
                await r.read()
                return r.status

        async def delete_one(k: int, i: int) -> int:
            async with session.delete(f"/accounts/{created.pop()}", headers=auth) as r:
                await r.read()
                return r.status

        async def login(k: int, _i: int) -> int:
            async with session.post(
                "/authentication/login", json=credentials(bench_email(k), BENCH_PASSWORD)
            ) as r:
                await r.read()
                return r.status

        chains: dict[int, str] = {}

        async def refresh(k: int, _i: int) -> int:
            async with session.post(
                "/authentication/refresh", json={"refresh_token": chains[k]}
            ) as r:
                body = await r.json()
                if r.status == 200:
                    chains[k] = body["refresh_token"]
                return r.status

        # Lists first, creates and deletes last: they are what move the account count.
        for operation, request, expect in (
            ("list", list_page, 200),
            ("login", login, 200),
            ("refresh", refresh, 200),
            ("get", get_one, 200),
            ("update", update_one, 200),
            ("create", create, 201),
            ("delete", delete_one, 204),
        ):
            for clients, total in zip(CLIENTS, COUNTS[operation], strict=True):
                if operation == "refresh":
                    for k in range(clients):
                        chains[k] = (
                            await _login(session, credentials(bench_email(k), BENCH_PASSWORD))
                        )["refresh_token"]
                sample = Sample(operation, accounts, clients)
                samples.append(await run_load(sample, total, request, expect, cap_s))
    return samples


async def rotate_chain(base: str, rotations: int, window: int, cap_s: float) -> dict[str, Any]:
    """Rotate one refresh chain `rotations` times; compare its first and last `window` steps,
    and a fresh chain's first `window` after it (same server, same moment: a control for what
    the machine's load did meanwhile). A chain too short to compare its ends gets a control as
    long as itself, so that every run's memory and disk figures hold two families."""
    started = time.perf_counter()
    async with aiohttp.ClientSession(base) as session:
        long_chain = await _chain(session, rotations, started + cap_s)
        elapsed = time.perf_counter() - started
        # a short chain gets a control as long as itself: every run ends with two families
        fresh = await _chain(session, min(window, rotations), time.perf_counter() + cap_s)
    compared = len(long_chain) >= 2 * window  # else too short to compare its ends
    out: dict[str, Any] = {"rotations": len(long_chain), "requested": rotations,
                           "elapsed_s": elapsed, "control_rotations": len(fresh)}
    if compared:
        first = Sample("refresh", 0, 1, long_chain[:window])
        last = Sample("refresh", 0, 1, long_chain[-window:])
        control = Sample("refresh", 0, 1, fresh)
        out |= {
            "first": first.as_dict() | {"operation": f"first {window} rotations"},
            "last": last.as_dict() | {"operation": f"last {window} rotations"},
            "fresh_after": control.as_dict() | {"operation": f"a new chain's first {window}"},
            "growth_p50": last.p50 / first.p50,
        }
    return out


def rss_kib(pid: int) -> int:
    """The resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for process {pid}")


def chain_costs(tmp: Path, hashes: dict[str, str], rotations: int, window: int,
                cap_s: float) -> dict[str, Any]:
    """One chain of `rotations` on a server of its own: latency, the server's memory before and
    after, the data dir on disk while it runs and after a clean stop (what the server keeps)."""
    data_dir = tmp / f"chain-{rotations}"
    write(data_dir, documents(Layout(100), hashes, time.time()))
    with server(data_dir) as (base, _startup, pid):
        rss_start = rss_kib(pid)
        chain = asyncio.run(rotate_chain(base, rotations, window, cap_s))
        rss_end = rss_kib(pid)
        running = _disk(data_dir)
    kept = _disk(data_dir)
    return chain | {"rss_start_kib": rss_start, "rss_end_kib": rss_end,
                    "disk_running": running, "disk_kept": kept}


async def _chain(session: aiohttp.ClientSession, rotations: int, deadline: float) -> list[float]:
    """Log in as bench user 0, then rotate its refresh token; each rotation's latency in ms."""
    body = await _login(session, credentials(bench_email(0), BENCH_PASSWORD))
    token, latencies = body["refresh_token"], []
    for _ in range(rotations):
        if time.perf_counter() > deadline:
            break
        t0 = time.perf_counter()
        async with session.post("/authentication/refresh", json={"refresh_token": token}) as r:
            body = await r.json()
            if r.status != 200:
                raise SystemExit(f"rotation {len(latencies)} failed: {r.status} {body}")
        latencies.append((time.perf_counter() - t0) * 1000)
        token = body["refresh_token"]
    return latencies


# --- bounds and suite times ------------------------------------------------------------------


def hash_times(tmp: Path, count: int = 9) -> list[float]:
    """Seconds per argon2id hash with the server's own parameters, one after the other."""
    passwords = Passwords(Settings(data_dir=tmp))
    try:
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            passwords.hash_sync(BENCH_PASSWORD)
            times.append(time.perf_counter() - t0)
        return times
    finally:
        passwords.close()


def hashing_bound(times: list[float]) -> dict[str, Any]:
    """cores / (time of one argon2id hash) = the ceiling password hashing sets on logins.

    The fastest hash, out of some taken before the levels and some after: on a machine others
    are loading, that is the closest to what it can do, so the bound is the strictest one.
    """
    fastest = min(times)
    cores = len(os.sched_getaffinity(0))
    return {"cores": cores, "hash_ms": fastest * 1000, "samples": len(times),
            "median_hash_ms": sorted(times)[len(times) // 2] * 1000,
            "bound_req_s": cores / fastest}


def timed_command(*args: str) -> dict[str, Any]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=ROOT, capture_output=True, text=True,
        check=False,
    )
    tail = proc.stdout.strip().splitlines()[-1:] or [proc.stderr.strip()[-200:]]
    return {"command": " ".join(["pytest", *args]), "seconds": time.perf_counter() - started,
            "exit": proc.returncode, "summary": tail[0]}


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


# --- the run ---------------------------------------------------------------------------------


LEVELS = (
    ("100", Layout(100)),
    ("1000", Layout(1000)),
    ("10000", Layout(10_000)),
    ("100 next to 10000", Layout(100, neighbour_accounts=10_000)),
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"),
                        help="where to write the results (default ./bench-results.json)")
    parser.add_argument("--rotations", type=int, nargs="+", default=[100, 20_000],
                        help="refresh chains to measure, each on a fresh server "
                        "(default 100 and 20000)")
    parser.add_argument("--only-chain", action="store_true",
                        help="measure the refresh chains only (no levels, no suite)")
    parser.add_argument("--cap", type=float, default=30.0,
                        help="stop an operation after this many seconds (default 30)")
    parser.add_argument("--no-suite", action="store_true", help="skip timing pytest itself")
    parser.add_argument("--only-per-request", action="store_true",
                        help="measure one request of each kind against the floor, nothing else")
    parser.add_argument("--rounds", type=int, default=40,
                        help="per-request table: rounds, each a batch of every operation "
                        "(default 40)")
    parser.add_argument("--batch", type=int, default=10,
                        help="per-request table: calls of each operation per round (default 10)")
    parser.add_argument("--only-signed", action="store_true",
                        help="measure signed against Bearer requests and the key lookup at 10 "
                        "and 10,000 keys (tests/bench/signed.py), nothing else")
    parser.add_argument("--server-src", type=Path,
                        help="run the reference server from this source tree (an earlier "
                        "version, for a before/after comparison); the benchmark stays this one")
    parser.add_argument("--compare-src", type=Path,
                        help="per-request table: also measure a server run from this source "
                        "tree (an earlier version), in the same interleaved rounds, as rows "
                        "of its own ('..., other server')")
    args = parser.parse_args()
    global SERVER_SRC
    SERVER_SRC = args.server_src.resolve() if args.server_src else None

    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average_before": os.getloadavg(),
        "levels": [],
    }
    with tempfile.TemporaryDirectory(prefix="dpaas-bench-") as tmp:
        results["signed"] = signed.signed_costs(Path(tmp), args.rounds, args.batch, SERVER_SRC)
        print(signed.render(results["signed"]), flush=True)
        if args.only_signed:
            args.json.write_text(json.dumps(results, indent=2))
            print(f"\nwritten to {args.json}")
            return
        seed_hashes = _hashes(Path(tmp))
        results["per_request"] = per_request_costs(
            Path(tmp), seed_hashes, args.rounds, args.batch,
            args.compare_src.resolve() if args.compare_src else None)
        print(report.render_per_request(results), flush=True)
        if args.only_per_request:
            results["load_average_after"] = os.getloadavg()
            results["seconds"] = time.perf_counter() - started
            args.json.write_text(json.dumps(results, indent=2))
            print(f"\nwritten to {args.json} ({results['seconds']:.0f} s)")
            return
        results["refresh_chains"] = []
        for rotations in args.rotations:
            results["refresh_chains"].append(
                chain_costs(Path(tmp), seed_hashes, rotations, 200, 8 * args.cap))
            print(f"measured a chain of {rotations} rotations", flush=True)
        if args.only_chain:
            results["load_average_after"] = os.getloadavg()
            results["seconds"] = time.perf_counter() - started
            args.json.write_text(json.dumps(results, indent=2))
            print(report.render_chains(results))
            print(f"\nwritten to {args.json} ({results['seconds']:.0f} s)")
            return
        times = hash_times(Path(tmp))
        for label, layout in LEVELS:
            data_dir = Path(tmp) / f"data-{label.replace(' ', '-')}"
            t0 = time.perf_counter()
            tables = documents(layout, seed_hashes, time.time())
            write(data_dir, tables)
            seeded = time.perf_counter() - t0
            ids = measured_ids(tables)
            with server(data_dir) as (base, startup, _pid):
                samples = asyncio.run(measure_level(base, layout.accounts, args.cap, ids))
            level = {"label": label, "accounts": layout.accounts,
                     "neighbour_accounts": layout.neighbour_accounts, "seed_s": seeded,
                     "startup_s": startup, "disk_bytes": _disk(data_dir),
                     "samples": [s.as_dict() for s in samples]}
            results["levels"].append(level)
            print(f"measured {label} accounts (seeded in {seeded:.1f} s, "
                  f"server ready in {startup:.1f} s)", flush=True)
        results["hashing"] = hashing_bound(times + hash_times(Path(tmp)))
    if not args.no_suite:
        results["suite"] = [timed_command("steps", "-q"), timed_command("-q")]
    results["load_average_after"] = os.getloadavg()
    results["seconds"] = time.perf_counter() - started
    report.derive(results)
    args.json.write_text(json.dumps(results, indent=2))
    print(report.render(results))
    print(f"\nwritten to {args.json} ({results['seconds']:.0f} s)")


def measured_ids(tables: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The ids of the measured organization's seeded accounts, but its default."""
    org = next(o["id"] for o in tables["organizations"] if o["slug"] == ORG)
    return [a["id"] for a in tables["accounts"]
            if a["organization_id"] == org and not a["is_default"]]


def _hashes(tmp: Path) -> dict[str, str]:
    """One argon2id hash per distinct password (the bench users share one password)."""
    passwords = Passwords(Settings(data_dir=tmp))
    try:
        secrets = {BENCH_PASSWORD, *(p.password for p in DEMO_PRINCIPALS.values())}
        return {s: passwords.hash_sync(s) for s in secrets}
    finally:
        passwords.close()


def _disk(data_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(data_dir.iterdir()) if p.is_file()}


if __name__ == "__main__":
    main()
