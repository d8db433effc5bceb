"""The suite's pytest plugin: options, the `target` fixture, levels, reporting and the verdict.

Scenarios carry their level (@must or @should) and requirement ids (@AUTH-9) as Gherkin tags; this
plugin turns them into markers, turns SHOULD failures into warnings unless --dpaas-strict, prints
the HTTP exchanges and the broken rule under a failure, and ends the run with a verdict per area.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from steps.client import ApiClient
from steps.requirements import AREAS, MUST, REQUIREMENTS, SHOULD
from steps.target import Config, Target, builtin_config, config_path, load_config

REQUIREMENT_TAG = re.compile(r"^[A-Z]+-\d+$")
API_KEY = pytest.StashKey[ApiClient]()
STEP_KEY = pytest.StashKey[str]()
OUTCOMES = ("must passed", "must failed", "should passed", "should warned", "not run")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dpaas", "DPaaS conformance suite")
    group.addoption(
        "--dpaas-config",
        metavar="PATH",
        help="TOML file naming the target's principals (default: $DPAAS_CONFIG; with no "
        "--base-url, the embedded reference server's own principals)",
    )
    group.addoption(
        "--dpaas-strict",
        action="store_true",
        help="fail the run on SHOULD requirements too (default: report them as warnings)",
    )
    group.addoption(
        "--dpaas-requirements",
        metavar="IDS",
        help="run only scenarios citing these comma-separated ids or prefixes (AUTH, LIST-3)",
    )
    group.addoption(
        "--dpaas-report",
        metavar="PATH",
        help="write every scenario's level, requirements and outcome to this JSON file",
    )
    group.addoption(
        "--dpaas-app-factory",
        metavar="MODULE:CALLABLE",
        help="with no --base-url, serve this aiohttp app factory (called with the reference "
        "server's Settings) instead of the reference server",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "level(name): the scenario's level, must or should")
    config.addinivalue_line("markers", "requirement(id): a requirement id the scenario checks")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Verdict(config), "dpaas-verdict")


def pytest_bdd_apply_tag(tag: str, function: Callable[..., Any]) -> bool | None:
    if tag in (MUST, SHOULD):
        pytest.mark.level(tag)(function)
        return True
    if REQUIREMENT_TAG.match(tag):
        pytest.mark.requirement(tag)(function)
        return True
    return None


def scenario_marks(item: pytest.Item) -> tuple[str | None, list[str]]:
    level = next((m.args[0] for m in item.iter_markers("level")), None)
    ids = sorted({m.args[0] for m in item.iter_markers("requirement")})
    return level, ids


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = config.rootpath / "tests"
    if config.getoption("base_url"):
        # The project's own tests are about the reference server and the suite itself; against
        # someone else's server only the conformance scenarios make sense.
        own = [i for i in items if i.path.is_relative_to(tests_dir)]
        if own:
            config.hook.pytest_deselected(items=own)
            items[:] = [i for i in items if not i.path.is_relative_to(tests_dir)]
    wanted = config.getoption("dpaas_requirements")
    prefixes = [w.strip() for w in wanted.split(",") if w.strip()] if wanted else []
    keep, drop = [], []
    for item in items:
        level, ids = scenario_marks(item)
        if level is not None:
            item.user_properties.append(("dpaas_level", level))
            item.user_properties.append(("dpaas_requirements", " ".join(ids)))
        selected = not prefixes or (
            level is not None
            and any(i == p or i.startswith(f"{p}-") for i in ids for p in prefixes)
        )
        (keep if selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """Everything a step needs to know about the implementation under test."""
    options = request.config.option
    path = config_path(options.dpaas_config)
    base_url = options.base_url
    if base_url:
        config = load_config(path) if path else Config(source="no DPaaS config given")
        if "admin" not in config.principals:
            raise pytest.UsageError(
                "against --base-url the suite needs at least the admin principal: pass "
                "--dpaas-config FILE (or set DPAAS_CONFIG) with a [principals.admin] table"
            )
        yield Target(base_url.rstrip("/"), config)
        return
    from reference_server.app import create_app
    from reference_server.config import Settings
    from steps.embedded import ManualClock, ServedApp, load_factory

    factory = load_factory(options.dpaas_app_factory) if options.dpaas_app_factory else create_app
    clock = ManualClock()
    settings = Settings(data_dir=tmp_path_factory.mktemp("dpaas-data"), demo=True, clock=clock)
    with ServedApp(lambda: factory(settings)) as url:
        yield Target(url, load_config(path) if path else builtin_config(), clock)


@pytest.fixture
def api(request: pytest.FixtureRequest, target: Target) -> Iterator[ApiClient]:
    client = ApiClient(target.base_url)
    request.node.stash[API_KEY] = client
    yield client
    client.close()
    if target.clock is not None:
        target.clock.reset()  # a scenario that moved time moves it back


# --- reporting -----------------------------------------------------------------------------


def pytest_bdd_step_error(request: pytest.FixtureRequest, step: Any, **_: Any) -> None:
    request.node.stash[STEP_KEY] = f"{step.keyword} {step.name}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    level, ids = scenario_marks(item)
    if level is None or report.when != "call" or not report.failed:
        return report
    broken = [f"{i} ({level.upper()}): {REQUIREMENTS[i].rule(level)}" for i in ids
              if i in REQUIREMENTS]
    step = item.stash.get(STEP_KEY, None)
    report.sections.append(
        ("DPaaS requirement broken", "\n".join(([f"failing step: {step}"] if step else [])
                                                + broken))
    )
    client = item.stash.get(API_KEY, None)
    if client is not None and client.exchanges:
        report.sections.append(("HTTP exchanges (secrets masked)", client.report()))
    if level == SHOULD and not item.config.getoption("dpaas_strict"):
        report.outcome = "skipped"
        report.wasxfail = f"SHOULD not met (warning): {', '.join(ids)}"
    return report


class Verdict:
    """Collects outcomes on the controller (works under xdist) and renders the summary.

    Registered as a plugin object in pytest_configure, so it needs no module-level state.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        level = props.get("dpaas_level")
        if level is None:
            return
        outcome = None
        if report.when == "call":
            if hasattr(report, "wasxfail"):
                outcome = "should warned"
            elif report.passed:
                outcome = f"{level} passed"
            elif report.failed:
                outcome = f"{level} failed"
            elif report.skipped:
                outcome = "not run"
        elif report.when == "setup" and (report.failed or report.skipped):
            outcome = f"{level} failed" if report.failed else "not run"
        if outcome is None:
            return
        reason = ""
        if outcome == "not run" and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        elif outcome != f"{level} passed" and report.longreprtext:
            reason = _first_error_line(report.longreprtext)
        self.rows.append(
            {
                "nodeid": report.nodeid,
                "level": level,
                "requirements": props.get("dpaas_requirements", "").split(),
                "outcome": outcome,
                "reason": reason,
            }
        )

    def table(self) -> list[str]:
        per_area: dict[str, Counter[str]] = defaultdict(Counter)
        total: Counter[str] = Counter()
        for row in self.rows:
            for area in {AREAS.get(r.split("-")[0], "other") for r in row["requirements"]}:
                per_area[area][row["outcome"]] += 1
            total[row["outcome"]] += 1
        lines = [f"{'area':<16}" + "".join(f"{o:>15}" for o in OUTCOMES)]
        for area in [*AREAS.values(), "other"]:
            if area in per_area:
                counts = per_area[area]
                lines.append(f"{area:<16}" + "".join(f"{counts[o]:>15}" for o in OUTCOMES))
        lines.append(f"{'all scenarios':<16}" + "".join(f"{total[o]:>15}" for o in OUTCOMES))
        failed = self._ids("must failed")
        warned = self._ids("should warned")
        if failed:
            lines.append(f"NOT CONFORMANT: MUST requirements failed: {', '.join(failed)}")
        elif total["must passed"]:
            lines.append("CONFORMANT: every MUST scenario that ran passed")
        if warned:
            lines.append(f"SHOULD warnings (fail with --dpaas-strict): {', '.join(warned)}")
        if total["not run"]:
            lines.append(f"{total['not run']} scenarios not run: see their reasons with -rs")
        return lines

    def _ids(self, outcome: str) -> list[str]:
        return sorted({r for row in self.rows if row["outcome"] == outcome
                       for r in row["requirements"]})

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.rows:
            terminalreporter.section("DPaaS conformance verdict")
            for line in self.table():
                terminalreporter.write_line(line)

    def pytest_sessionfinish(self) -> None:
        path = self.config.getoption("dpaas_report")
        if path:
            body = {"base_url": self.config.getoption("base_url") or "embedded",
                    "scenarios": self.rows}
            Path(path).write_text(json.dumps(body, indent=2), encoding="utf-8")


def _first_error_line(text: str) -> str:
    """The assertion message pytest shows after "E", which names what was expected."""
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return errors[0] if errors else text.strip().splitlines()[-1]
