"""The suite's pytest plugin: options, preflight, the `target` fixture, levels, reporting, verdict.

Scenarios carry their level (@must or @should) and requirement ids (@AUTH-9) as Gherkin tags; this
plugin turns them into markers, judges how each scenario ended (see `outcomes`), turns SHOULD
failures into warnings unless --dpaas-strict and listed failures into expected ones with
--dpaas-expect (see `expectations`), prints the broken rule, the HTTP exchanges and their replay
as curl commands under a failure (see `replay`), and ends the run with a verdict whose exit status
says the same (see `verdict`), in the terminal, the JSON report and the HTML report (see `html`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from dpaas_conformance.library import classes, expectations, replay, turns
from dpaas_conformance.library.client import ApiClient
from dpaas_conformance.library.embedded import ManualClock, ServedApp, Variant, load_variants
from dpaas_conformance.library.membership import check_membership
from dpaas_conformance.library.outcomes import (
    EXPECTED,
    FAILED,
    INCONCLUSIVE,
    WARNED,
    judge,
    printable,
)
from dpaas_conformance.library.paths import FEATURES_DIR
from dpaas_conformance.library.preflight import PreflightError, check_target
from dpaas_conformance.library.requirements import MUST, REQUIREMENTS, SHOULD
from dpaas_conformance.library.target import (
    BUILT_IN,
    PRINCIPAL_NAMES,
    Config,
    ConfigError,
    Target,
    builtin_config,
    config_path,
    load_config,
)
from dpaas_conformance.library.verdict import Verdict
from pytest_bdd.feature import get_features
from pytest_bdd.scenario import scenario_wrapper_template_registry

REQUIREMENT_TAG = re.compile(r"^[A-Z]+-\d+$")
HOSTILE = "ERR-5"  # scenarios that write hostile data run last (see pytest_collection_modifyitems)
API_KEY = pytest.StashKey[ApiClient]()
TARGET_KEY = pytest.StashKey[Target]()
EXPECT_KEY = pytest.StashKey[expectations.Expectations]()
STEP_KEY = pytest.StashKey[str]()
CONFIG_KEY = pytest.StashKey[Config]()
VARIANTS_KEY = pytest.StashKey[dict[str, Variant]]()
VERDICT_PLUGIN = "dpaas-verdict"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dpaas", "DPaaS conformance suite")
    group.addoption(
        "--dpaas-config",
        metavar="PATH",
        help="TOML file naming the target's principals (default: $DPAAS_CONFIG); needed with "
        "--base-url, refused without it (the embedded server has its own principals)",
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
        help="write the verdict and every scenario's level, requirements and outcome as JSON",
    )
    group.addoption(
        "--dpaas-expect",
        metavar="PATH",
        help="TOML or JSON file of the requirement ids and scenario names the target is known "
        "to fail, each with its reason: they show as expected failures and do not fail the run; "
        "one that passes does",
    )
    group.addoption(
        "--dpaas-variants",
        metavar="MODULE:ATTR",
        help="with no --base-url, check each embedded variant of this mapping in turn (the "
        "mutation harness) instead of the reference server",
    )
    group.addoption(
        "--dpaas-variant",
        action="append",
        default=[],
        metavar="NAME",
        help="with --dpaas-variants, only this variant (repeatable)",
    )


def is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "level(name): the scenario's level, must or should")
    config.addinivalue_line("markers", "requirement(id): a requirement id the scenario checks")
    spec = config.getoption("dpaas_variants")
    if spec:
        try:
            variants = dict(load_variants(spec))
        except (ImportError, AttributeError, ValueError) as exc:
            raise pytest.UsageError(f"--dpaas-variants={spec}: {exc}") from exc
        wanted = config.getoption("dpaas_variant")
        unknown = set(wanted) - set(variants)
        if unknown:
            raise pytest.UsageError(
                f"unknown variants {sorted(unknown)}; known: {sorted(variants)}"
            )
        config.addinivalue_line("markers", "xdist_group(name): run together (pytest-xdist)")
        config.stash[VARIANTS_KEY] = {
            n: v for n, v in variants.items() if not wanted or n in wanted
        }
    if is_controller(config):
        verdict_plugin = VerdictPlugin(config)
        config.pluginmanager.register(verdict_plugin, VERDICT_PLUGIN)
        if hasattr(config.hook, "pytest_html_results_summary"):  # pytest-html is active
            from dpaas_conformance.library.html import HtmlReport

            config.pluginmanager.register(HtmlReport(verdict_plugin.verdict), "dpaas-html")


# --- configuration and preflight -------------------------------------------------------------


def resolve_config(config: pytest.Config) -> Config:
    """The principals to use; ConfigError says what to fix."""
    option = config.getoption("dpaas_config")
    if config.getoption("base_url"):
        path = config_path(option)
        if path is None:
            raise ConfigError(
                "no DPaaS config given: pass --dpaas-config=FILE (or set DPAAS_CONFIG) naming at "
                "least [principals.admin] of the target (see README, 'Validate your "
                "implementation')"
            )
        return load_config(path)
    if option:
        raise ConfigError(
            f"--dpaas-config={option} given without --base-url: the embedded reference server "
            "has its own principals; add --base-url URL to check your implementation"
        )
    return builtin_config()


def feature_scenarios(config: pytest.Config) -> dict[str, set[str]]:
    """Every scenario of the feature files, by name, with its tags (and its feature's)."""
    ini = config.getini("bdd_features_base_dir")
    base = config.rootpath / ini if ini else FEATURES_DIR
    return {
        name: {*template.tags, *feature.tags}
        for feature in get_features([str(base)])
        for name, template in feature.scenarios.items()
    }


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Checks the setup before any scenario (and, under xdist, before any worker starts)."""
    config = session.config
    expect = config.getoption("dpaas_expect")
    if not is_controller(config):
        if expect:  # the controller checked it; a worker only needs to read it
            config.stash[EXPECT_KEY] = expectations.load(Path(expect))
        return
    if config.option.collectonly:
        return
    plugin: VerdictPlugin = config.pluginmanager.get_plugin(VERDICT_PLUGIN)
    try:
        if expect:
            expected = expectations.load(Path(expect))
            expected.check(feature_scenarios(config))
            config.stash[EXPECT_KEY] = plugin.verdict.expectations = expected
        loaded = resolve_config(config)
        base_url = config.getoption("base_url")
        if base_url:
            check_target(base_url.rstrip("/"), loaded)
            check_membership(base_url.rstrip("/"), loaded)  # v2 classes: call site
        config.stash[CONFIG_KEY] = loaded
        # v2 classes: call site: what the target claims, and what the features hold
        plugin.verdict.claimed = loaded.classes
        plugin.verdict.known_classes = frozenset(
            classes.scenario_class(t for t in tags if REQUIREMENT_TAG.match(t))
            for tags in feature_scenarios(config).values())
    except (ConfigError, PreflightError) as exc:
        plugin.stop(str(exc))


def pytest_report_header(config: pytest.Config) -> list[str]:
    loaded = config.stash.get(CONFIG_KEY, None)
    if loaded is None:
        return []
    variants = config.stash.get(VARIANTS_KEY, None)
    base_url = config.getoption("base_url")
    where = (base_url if base_url else f"{len(variants)} embedded variants" if variants
             else "the embedded reference server")
    present = [n for n in PRINCIPAL_NAMES if n in loaded.principals]
    missing = [n for n in PRINCIPAL_NAMES if n not in loaded.principals]
    keyed = Target(base_url or "", loaded, ManualClock() if not base_url else None).keyed_tier
    source = loaded.source
    if not base_url and loaded.source == BUILT_IN and config_path(None):
        source += " ($DPAAS_CONFIG is ignored without --base-url)"
    expected = config.stash.get(EXPECT_KEY, None)
    return [
        f"DPaaS target: {where}",
        f"DPaaS config: {source}",
        f"DPaaS principals: {', '.join(present)}"
        + (f" (missing: {', '.join(missing)}; their scenarios are not run)" if missing else ""),
        f"DPaaS classes claimed: {', '.join(classes.in_order(loaded.classes))}"
        + (" (the others' scenarios are not run)" if loaded.classes != set(classes.CLASSES)
           else ""),  # v2 classes: call site
        f"DPaaS strict mode: {'on' if config.getoption('dpaas_strict') else 'off'}",
        f"DPaaS keyed checks: {keyed}",
    ] + ([f"DPaaS expected failures: {len(expected.entries)} entries in {expected.source}"]
         if expected is not None else [])


# --- collection ------------------------------------------------------------------------------


def pytest_bdd_apply_tag(tag: str, function: Callable[..., Any]) -> bool | None:
    if tag in (MUST, SHOULD):
        pytest.mark.level(tag)(function)
        # Every scenario uses the target, so --dpaas-variants can parametrize it.
        pytest.mark.usefixtures("target")(function)
        pytest.mark.usefixtures("dpaas_scenario")(function)  # v2 classes: call site
        return True
    if REQUIREMENT_TAG.match(tag):
        pytest.mark.requirement(tag)(function)
        return True
    return None


def scenario_marks(item: pytest.Item | Any) -> tuple[str | None, list[str]]:
    level = next((m.args[0] for m in item.iter_markers("level")), None)
    ids = sorted({m.args[0] for m in item.iter_markers("requirement")})
    return level, ids


def scenario_class(item: pytest.Item | Any) -> str:
    """The scenario's conformance class, from its ids (v2 classes: call site)."""
    try:
        return classes.scenario_class(scenario_marks(item)[1])
    except ValueError as exc:
        raise pytest.UsageError(f"{getattr(item, 'nodeid', item)}: {exc}") from exc


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    variants = metafunc.config.stash.get(VARIANTS_KEY, None)
    if variants is None or "dpaas_variant" not in metafunc.fixturenames:
        return
    level, ids = scenario_marks(metafunc.definition)
    names = [n for n, v in variants.items() if level and v.selects(level, ids)]
    params = [pytest.param(n, id=f"@{n}", marks=pytest.mark.xdist_group(n)) for n in names]
    metafunc.parametrize("dpaas_variant", params or [pytest.param(None, id="no-variant")],
                         indirect=True, scope="session")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = config.rootpath / "tests"
    variants = config.stash.get(VARIANTS_KEY, None)
    wanted = config.getoption("dpaas_requirements")
    prefixes = [w.strip() for w in wanted.split(",") if w.strip()] if wanted else []
    keep, drop = [], []
    for item in items:
        level, ids = scenario_marks(item)
        variant = _variant_of(item)
        if level is not None:
            item.user_properties.append(("dpaas_level", level))
            item.user_properties.append(("dpaas_requirements", " ".join(ids)))
            item.user_properties.append(("dpaas_class", scenario_class(item)))  # v2 classes
            if variant:
                item.user_properties.append(("dpaas_variant", variant))
        own_test = level is None and item.path.is_relative_to(tests_dir)
        selected = (
            # Against someone else's server only the conformance scenarios make sense.
            not (own_test and config.getoption("base_url"))
            and (not prefixes or (level is not None and any(
                i == p or i.startswith(f"{p}-") for i in ids for p in prefixes)))
            and not (variants is not None and level is not None and variant is None)
        )
        (keep if selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    # Hostile-data scenarios last (per variant, keeping each variant's scenarios together): a
    # target they break is then broken only for them, not for every scenario after them.
    groups = {v: i for i, v in enumerate(dict.fromkeys(_variant_of(i) for i in keep))}
    keep.sort(key=lambda i: (groups[_variant_of(i)], HOSTILE in scenario_marks(i)[1]))
    items[:] = keep


def _variant_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("dpaas_variant") if callspec is not None else None


def scenario_name(item: pytest.Item) -> str | None:
    """The scenario's name as its feature file writes it (pytest-bdd keeps it by function)."""
    try:
        template = scenario_wrapper_template_registry.get(item.obj)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # not a function, or not one weak references reach
        return None
    return template.name if template is not None else None


def scenario_id(item: pytest.Item) -> str:
    """The node id without the variant: the same scenario against every variant."""
    variant = _variant_of(item)
    if variant is None:
        return item.nodeid
    tag = f"@{variant}"
    return item.nodeid.replace(f"[{tag}]", "").replace(f"-{tag}", "").replace(f"{tag}-", "")


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dpaas_variant(request: pytest.FixtureRequest) -> str | None:
    """The embedded variant this scenario runs against (--dpaas-variants), else None."""
    return getattr(request, "param", None)


@pytest.fixture(scope="session")
def target(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    dpaas_variant: str | None,
) -> Iterator[Target]:
    """Everything a step needs to know about the implementation under test."""
    config = request.config
    try:
        loaded = config.stash.get(CONFIG_KEY, None) or resolve_config(config)
    except ConfigError as exc:  # only on xdist workers; the controller stopped the run already
        raise pytest.UsageError(str(exc)) from exc
    base_url = config.getoption("base_url")
    if base_url:
        yield Target(base_url.rstrip("/"), loaded)
        return
    from reference_server.app import create_app
    from reference_server.config import Settings

    clock = ManualClock()
    data_dir = tmp_path_factory.mktemp(f"dpaas-{dpaas_variant or 'reference'}")
    # Fast test-only argon2 parameters (the server refuses them without the switch): the
    # scenarios log in some four hundred times, and how a password is hashed is the server's
    # own tests' business (tests/test_server_*), not the conformance verdict's.
    settings = Settings(data_dir=data_dir, demo=True, clock=clock, argon2_time_cost=1,
                        argon2_memory_cost=8, allow_weak_password_hashing=True)
    if dpaas_variant is None:
        make_app = create_app
    else:
        make_app = config.stash[VARIANTS_KEY][dpaas_variant].make_app
    with ServedApp(lambda: make_app(settings)) as url:
        yield Target(url, loaded, clock, dpaas_variant)


@pytest.fixture
def dpaas_scenario(
    request: pytest.FixtureRequest, target: Target, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """What every scenario needs before its first step (v2 classes: call site): its class
    claimed by the target, else not run; and its turn, exclusive for the scenarios that delete
    accounts or change the default account, when xdist workers share one target."""
    cls = scenario_class(request.node)
    if cls not in target.config.classes:
        pytest.skip(classes.not_run_reason(cls, target.config.source))
    shared = target.clock is None and hasattr(request.config, "workerinput")
    lock = tmp_path_factory.getbasetemp().parent / turns.LOCK_NAME if shared else None
    with turns.turn(lock, exclusive=turns.alone(scenario_marks(request.node)[1])):
        yield


@pytest.fixture
def api(request: pytest.FixtureRequest, target: Target) -> Iterator[ApiClient]:
    client = ApiClient(target.base_url, passwords=target.passwords)
    request.node.stash[API_KEY] = client
    request.node.stash[TARGET_KEY] = target
    yield client
    client.close()
    if target.clock is not None:
        target.clock.reset()  # a scenario that moved time moves it back


# --- judging and reporting -------------------------------------------------------------------


def pytest_bdd_step_error(request: pytest.FixtureRequest, step: Any, **_: Any) -> None:
    request.node.stash[STEP_KEY] = f"{step.keyword} {step.name}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    level, ids = scenario_marks(item)
    if level is None:
        return report
    context = {"level": level, "requirements": ids, "variant": _variant_of(item),
               "scenario": scenario_id(item), "name": scenario_name(item),
               "class": scenario_class(item)}  # v2 classes: call site
    report.dpaas = context  # type: ignore[attr-defined]
    if report.when == "teardown":
        context["reason"] = str(call.excinfo.value) if call.excinfo else ""
        return report
    if report.when == "setup" and report.passed:
        return report
    strict = bool(item.config.getoption("dpaas_strict"))
    judgement = judge(call.excinfo, level, ids, strict)
    expected = item.config.stash.get(EXPECT_KEY, None)
    entries = (expected.covering(context["name"], judgement.blamed)
               if expected is not None and judgement.outcome in (FAILED, WARNED) else [])
    if entries:
        judgement = replace(judgement, outcome=EXPECTED)
        context["expected"] = "; ".join(e.reason for e in entries)
    context.update(outcome=judgement.outcome, judged_level=judgement.level,
                   blamed=list(judgement.blamed), reason=judgement.reason,
                   label=judgement.label)
    item.user_properties.append(("dpaas_outcome", judgement.label))
    report.user_properties.append(("dpaas_outcome", judgement.label))
    if judgement.outcome == INCONCLUSIVE:
        report.sections.append(("DPaaS: inconclusive, not held against the target",
                                judgement.reason))
    elif report.failed or judgement.outcome in (WARNED, EXPECTED):
        broken = [f"{i} ({judgement.level.upper()}): {REQUIREMENTS[i].rule(judgement.level)}"
                  for i in judgement.blamed if i in REQUIREMENTS]
        step = item.stash.get(STEP_KEY, None)
        report.sections.append(("DPaaS requirement broken",
                                "\n".join(([f"failing step: {step}"] if step else []) + broken)))
    client = item.stash.get(API_KEY, None)
    if report.failed and client is not None and client.exchanges:
        report.sections.append(("HTTP exchanges (secrets masked)", client.report()))
        commands = replay_of(client, item.stash[TARGET_KEY])
        report.sections.append(("Replay: the requests as curl commands", commands.render()))
        context["replay"] = commands.to_json()
    if judgement.outcome == WARNED:
        report.outcome = "skipped"
        report.wasxfail = f"SHOULD not met (warning): {', '.join(judgement.blamed)}"
    elif judgement.outcome == EXPECTED:
        report.outcome = "skipped"
        report.wasxfail = f"expected failure ({expected.source}): {context['expected']}"
    return report


def replay_of(client: ApiClient, target: Target) -> replay.Replay:
    """The curl commands of what the client sent, checked once more for a password."""
    commands = replay.build(client.exchanges, target.config.principals.values(),
                            target.config.source)
    return replace(commands, commands=tuple(
        replace(c, text=printable(client.redact(c.text))) for c in commands.commands))


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, str] | None:
    judgement = getattr(report, "dpaas", None)
    if judgement and judgement.get("outcome") == INCONCLUSIVE and report.failed:
        return "error", "I", "INCONCLUSIVE"
    return None


class VerdictPlugin:
    """The controller's side: collects every report and ends the run with the verdict."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.verdict = Verdict(strict=bool(config.getoption("dpaas_strict")))

    def context(self) -> dict[str, Any]:
        loaded = self.config.stash.get(CONFIG_KEY, None)
        return {
            "target": self.config.getoption("base_url") or "embedded",
            "config": loaded.source if loaded else self.config.getoption("dpaas_config"),
            "principals": sorted(loaded.principals) if loaded else [],
        }

    def stop(self, problem: str) -> None:
        """Ends the run before any scenario: one line to fix, INCONCLUSIVE, its exit status.

        A UsageError is how pytest ends a run with one line ("ERROR: ...") and status 4, the
        status the verdict INCONCLUSIVE has anyway.
        """
        self.verdict.preflight = problem
        path = self.config.getoption("dpaas_report")
        if path:
            self.verdict.write(path, **self.context())
        raise pytest.UsageError(f"DPaaS verdict INCONCLUSIVE: {problem}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.verdict.record(report)

    def pytest_keyboard_interrupt(self) -> None:
        self.verdict.interrupted = True

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.verdict.rows:
            terminalreporter.section("DPaaS conformance verdict")
            for line in self.verdict.table():
                terminalreporter.write_line(line)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.verdict.rows:
            return
        if session.shouldstop or session.shouldfail:
            self.verdict.interrupted = True  # stopped early (-x): what did not run is unjudged
        session.exitstatus = self.verdict.exit_status
        path = self.config.getoption("dpaas_report")
        if path:
            self.verdict.write(path, **self.context())
