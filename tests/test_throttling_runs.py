"""Runs that do not spoil the next run: the suite against login throttles that count differently.

Each test serves one of the correct throttling variants of tests/mutants/free.py and runs the
real suite against it twice in a row, on the scenarios that log in and those that spend failed
logins (the login, AUTH-5's wrong credentials, the limited user's, USER-2's, the throttling probe):
- a throttle that a success does not reset (3 failed logins per account in 15 minutes, then
  429 for every login of it): both runs are judged, since each run spends one wrong password
  per principal, after everything that needs a login;
- a throttle per client address (10 failed logins, then 429 for every login from it): the first
  run is judged whole, and the second, inside the window, is inconclusive at its preflight,
  saying why. Under `-n 2` a first run is judged whole too: the probe waits for the other worker.
  (Without that wait, whether the other worker's logins come before the probe's is a matter of
  timing; the test shows the wait works, it cannot show its absence fails every time.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dpaas_conformance.library.embedded import ServedApp
from dpaas_conformance.library.paths import FEATURES_DIR

from reference_server.config import Settings
from reference_server.demo import DEMO_PRINCIPALS
from tests.mutants import variants
from tests.tiny_project import CONFTEST

SELECTED = "AUTH-1,AUTH-5,AUTH-7,AUTH-8,ACC-5,USER-2"


def config_text() -> str:
    return "".join(
        f'[principals.{name}]\nemail = "{p.email}"\npassword = "{p.password}"\n'
        f'organization_slug = "{p.organization_slug}"\n\n'
        for name, p in DEMO_PRINCIPALS.items())


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project that runs the suite's real features against a --base-url."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makeini(f"[pytest]\nbdd_features_base_dir = {FEATURES_DIR}\n")
    pytester.makepyfile(test_real=f"from pytest_bdd import scenarios\n\n"
                                  f"scenarios({str(FEATURES_DIR)!r})\n")
    (pytester.path / "dpaas.toml").write_text(config_text())
    return pytester


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    served: list[ServedApp] = []

    def start(name: str) -> str:
        variant = variants()[name]
        settings = Settings(data_dir=tmp_path / name, demo=True)
        app = ServedApp(lambda: variant.make_app(settings))
        served.append(app)
        return app.start()

    yield start
    for app in served:
        app.stop()


def run(suite: pytest.Pytester, url: str, *extra: str) -> pytest.RunResult:
    return suite.runpytest(
        "--base-url", url, "--dpaas-config=dpaas.toml", f"--dpaas-requirements={SELECTED}",
        "-p", "no:cacheprovider", "-p", "pytest_bdd.plugin", "-p", "pytest_base_url.plugin",
        "-p", "dpaas",
        *extra)


def test_a_throttle_that_a_success_does_not_reset_lets_two_runs_in_a_row_be_judged(
    suite: pytest.Pytester, serve: Any,
) -> None:
    url = serve("throttle_no_reset_on_success")
    for _ in range(2):
        result = run(suite, url)
        assert result.ret == 0, result.stdout.str()[-3000:]
        result.stdout.fnmatch_lines(["CONFORMANT for the requirements checked; not checked: *"])
        assert "inconclusive: " not in result.stdout.str()


def test_a_throttle_per_address_judges_a_run_whole_and_then_says_why_it_cannot(
    suite: pytest.Pytester, serve: Any,
) -> None:
    url = serve("throttle_per_address")
    first = run(suite, url)
    assert first.ret == 0, first.stdout.str()[-3000:]
    first.stdout.fnmatch_lines(["CONFORMANT for the requirements checked; not checked: *"])
    second = run(suite, url)
    assert second.ret == 4
    second.stderr.fnmatch_lines(["ERROR: DPaaS verdict INCONCLUSIVE: the target throttles "
                                 "logins for the admin principal * (429, Retry-After *"
                                 "wait, then run again"])


def test_under_xdist_the_throttling_probe_waits_for_the_other_worker(
    suite: pytest.Pytester, serve: Any,
) -> None:
    result = run(suite, serve("throttle_per_address"), "-p", "xdist.plugin", "-n", "2")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["CONFORMANT for the requirements checked; not checked: *"])
