"""A bounded Schemathesis run against the reference server: docs/checking.md's command, small.

The same `st run` an implementer runs against their own server (every check, every phase,
stateful runs following the document's links), with few examples per operation so it costs a
few seconds. The server is the embedded one, on a fresh demo database; the run starts when
collection ends and goes on beside the other tests (`tests/schemathesis_run.py`).
"""

from __future__ import annotations

import re

import pytest

from tests.schemathesis_run import result


def test_schemathesis_finds_no_failure(request: pytest.FixtureRequest) -> None:
    done = result(request.config)
    output = done.output
    assert done.returncode == 0, f"Schemathesis found failures:\n{output}"
    assert "No issues found" in output, output
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", output)
    assert links, f"no stateful phase ran:\n{output}"
    covered, selected = map(int, links.groups())
    # Chains start only at a successful login (examples/schemathesis_hooks.py): none covered
    # means the stateful phase tested nothing but 401s.
    assert selected >= 8 and covered >= 1, f"no stateful chain got past login:\n{output}"
