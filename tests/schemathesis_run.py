"""The bounded Schemathesis run, started as soon as collection ends so that it runs beside the
other tests (as the mutation harness does): the embedded server and Schemathesis share a process
of their own (`python -m tests.schemathesis_run`), at a lower priority, and the main process
would otherwise wait for it. `tests/test_schemathesis.py` picks up its result at the end of the
run; under pytest-xdist, or when collection did not start it, the test runs it itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from dpaas_conformance.library.embedded import ServedApp

from reference_server.app import create_app
from reference_server.config import Settings
from reference_server.demo import DEMO_PRINCIPALS
from tests.mutants.background import NICE

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "schemathesis.toml"
RUN_TIMEOUT = 180
#: A fixed seed keeps this small run the same every time; docs/checking.md's full run has none.
SEED = "20250930"
MODULE = "test_schemathesis.py"


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str


RUN = pytest.StashKey[Future[Finished]]()


def bounded_run() -> Finished:
    """The README's `st run` against the embedded server on a fresh demo database: every check,
    every phase, with 5 examples per operation. Server and run share one process of their own
    (`serve_and_check`), at a lower priority, so that neither takes the main process's time."""
    command = [sys.executable, "-m", "tests.schemathesis_run"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        os.setpriority(os.PRIO_PROCESS, proc.pid, NICE)  # as the harness's processes (see NICE)
        try:
            output, _ = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    return Finished(proc.returncode, output)


def serve_and_check() -> int:
    """In the run's own process: the embedded server in a thread, Schemathesis's command."""
    import schemathesis.cli

    with tempfile.TemporaryDirectory(prefix="dpaas-schemathesis-") as tmp:
        # Cheap argon2 (what is checked here is the API against its document, not the hashing):
        # the run logs in and fails logins a few hundred times.
        settings = Settings(data_dir=Path(tmp) / "data", demo=True, argon2_time_cost=1,
                            argon2_memory_cost=8, allow_weak_password_hashing=True)
        # Not the document's login example (admin): generated failed logins would throttle it.
        principal = DEMO_PRINCIPALS["other"]
        os.environ.update({
            "DPAAS_EMAIL": principal.email,
            "DPAAS_PASSWORD": principal.password,
            "DPAAS_ORG": principal.organization_slug,
            "NO_COLOR": "1",
            # Hypothesis keeps caches in the working directory unless told otherwise.
            "HYPOTHESIS_STORAGE_DIRECTORY": str(Path(tmp) / "hypothesis"),
        })
        with ServedApp(lambda: create_app(settings)) as base_url:
            arguments = [
                "--config-file", str(CONFIG),
                "run", f"{base_url}/openapi.json",
                "--checks", "all",
                "--max-examples", "5",
                "--generation-database", "none",
                "--seed", SEED,
                "--workers", "1",
                "--no-color",
            ]  # fmt: skip
            try:
                schemathesis.cli.schemathesis.main(arguments, prog_name="st")
            except SystemExit as done:
                return done.code if isinstance(done.code, int) else 1
    return 0


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Generator[None, None, None]:
    # Late, so that the run has had the time to end; after every other plugin's order (the
    # suite's included); stable: the rest keep their order.
    yield
    items.sort(key=lambda item: item.path.name == MODULE)


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput"):
        return
    if any(item.path.name == MODULE for item in session.items):
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dpaas-schemathesis")
        config.stash[RUN] = executor.submit(bounded_run)
        executor.shutdown(wait=False)


def result(config: pytest.Config) -> Finished:
    started = config.stash.get(RUN, None)
    return started.result(timeout=RUN_TIMEOUT) if started is not None else bounded_run()


if __name__ == "__main__":
    sys.exit(serve_and_check())
