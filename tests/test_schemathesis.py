"""A bounded Schemathesis run against the reference server: docs/checking.md's command, made small.

The same `st run` an implementer runs against their own server (every check, every phase,
stateful runs following the document's links), with few examples per operation so it costs a
few seconds. The server is the embedded one, on a fresh demo database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from dpaas_conformance.library.embedded import ServedApp

from reference_server.app import create_app
from reference_server.config import Settings
from reference_server.demo import DEMO_PRINCIPALS

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "schemathesis.toml"
RUN_TIMEOUT = 120
#: A fixed seed keeps this small run the same every time; the documented full run has none.
SEED = "20250930"


def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo=True)
    # Not the document's login example (admin): generated failed logins would throttle it.
    principal = DEMO_PRINCIPALS["other"]
    env = {
        **os.environ,
        "DPAAS_EMAIL": principal.email,
        "DPAAS_PASSWORD": principal.password,
        "DPAAS_ORG": principal.organization_slug,
        "NO_COLOR": "1",
        # Hypothesis keeps caches in the working directory unless told otherwise.
        "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis"),
    }
    with ServedApp(lambda: create_app(settings)) as base_url:
        command = [
            sys.executable, "-m", "schemathesis.cli",
            "--config-file", str(CONFIG),
            "run", f"{base_url}/openapi.json",
            "--checks", "all",
            "--max-examples", "5",
            "--generation-database", "none",
            "--seed", SEED,
            "--workers", "1",
            "--no-color",
        ]  # fmt: skip
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"Schemathesis found failures:\n{output}"
    assert "No issues found" in output, output
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", output)
    assert links, f"no stateful phase ran:\n{output}"
    covered, selected = map(int, links.groups())
    # Chains start only at a successful login (examples/schemathesis_hooks.py): none covered
    # means the stateful phase tested nothing but 401s.
    assert selected >= 8 and covered >= 1, f"no stateful chain got past login:\n{output}"
