"""Before any scenario: the principals, the expectations file and the preflight, or one line to
fix and the verdict INCONCLUSIVE; and the lines of the run's header that say what is checked.

A UsageError is how pytest ends a run with one line ("ERROR: ...") and status 4, the status the
verdict INCONCLUSIVE has anyway.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dpaas_conformance.library import classes, expectations, limits, ordering
from dpaas_conformance.library.embedded import ManualClock
from dpaas_conformance.library.membership import check_membership
from dpaas_conformance.library.options import Options
from dpaas_conformance.library.paths import FEATURES_DIR
from dpaas_conformance.library.preflight import PreflightError, check_target
from dpaas_conformance.library.run import is_controller, run_of
from dpaas_conformance.library.scenario import catalogue
from dpaas_conformance.library.selection import unselected
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


def pytest_configure(config: pytest.Config) -> None:
    limits.install(config)  # the run's budget, and the deadline checked for sense
    ordering.install(config)  # what runs last, and the probe's wait under xdist
    run = run_of(config)
    variants = config.hook.pytest_dpaas_variants(config=config)
    if variants is None:
        return
    if run.options.base_url:
        raise pytest.UsageError("embedded variants are checked without --base-url")
    config.addinivalue_line("markers", "xdist_group(name): run together (pytest-xdist)")
    run.variants = dict(variants)


def resolve_config(options: Options) -> Config:
    """The principals to use; ConfigError says what to fix."""
    if options.base_url:
        path = config_path(options.config_file)
        if path is None:
            raise ConfigError(
                "no DPaaS config given: pass --dpaas-config FILE (or set DPAAS_CONFIG) naming at "
                "least [principals.admin] of the target (see docs/checking.md)"
            )
        return load_config(path)
    if options.config_file:
        raise ConfigError(
            f"--dpaas-config={options.config_file} given without --base-url: the embedded "
            "reference server has its own principals; add --base-url URL to check your "
            "implementation"
        )
    return builtin_config()


def feature_dirs(config: pytest.Config) -> list[Path]:
    """The suite's own features, unless the ini names others (the suite's own tests do)."""
    return list(config.getini("dpaas_features")) or [FEATURES_DIR]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Checks the setup before any scenario (and, under xdist, before any worker starts)."""
    config = session.config
    run = run_of(config)
    expect = run.options.expect
    if not is_controller(config):
        if expect:  # the controller checked it; a worker only needs to read it
            run.expectations = expectations.load(expect)
        return
    if config.option.collectonly:
        return
    try:
        if run.variants is None or expect:
            run.catalogue = catalogue(feature_dirs(config))
        if expect:
            run.expectations = expectations.load(expect)
            run.expectations.check(run.catalogue)
        loaded = resolve_config(run.options)
        if run.options.base_url:
            check_target(run.options.base_url, loaded, limits.from_config(config))
            check_membership(run.options.base_url, loaded, limits.from_config(config))
        run.config = loaded
    except (ConfigError, PreflightError) as exc:
        stop(config, str(exc))
    finally:
        verdict = run.verdict
        if verdict is not None:
            verdict.expectations = run.expectations
            if run.variants is None:
                verdict.catalogue, verdict.unselected = run.catalogue, unselected(run)
            if run.config is not None:  # what the target claims, and what the features hold
                verdict.claimed = run.config.classes
                verdict.known_classes = frozenset(
                    classes.scenario_class(ids) for ids in run.catalogue.values())


def stop(config: pytest.Config, problem: str) -> None:
    """Ends the run before any scenario: one line to fix, INCONCLUSIVE, its exit status."""
    from dpaas_conformance.library.reports import write_report

    run = run_of(config)
    if run.verdict is not None:
        run.verdict.preflight = problem
        write_report(config)
    raise pytest.UsageError(f"DPaaS verdict INCONCLUSIVE: {problem}")


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = run_of(config)
    loaded = run.config
    if loaded is None:
        return []
    base_url = run.options.base_url
    where = (base_url if base_url else f"{len(run.variants)} embedded variants" if run.variants
             else "the embedded reference server")
    present = [n for n in PRINCIPAL_NAMES if n in loaded.principals]
    missing = [n for n in PRINCIPAL_NAMES if n not in loaded.principals]
    keyed = Target(base_url or "", loaded, ManualClock() if not base_url else None).keyed_tier
    source = loaded.source
    if not base_url and loaded.source == BUILT_IN and config_path(None):
        source += " ($DPAAS_CONFIG is ignored without --base-url)"
    expected = run.expectations
    return [
        f"DPaaS target: {where}",
        f"DPaaS config: {source}",
        f"DPaaS principals: {', '.join(present)}"
        + (f" (missing: {', '.join(missing)}; their scenarios are not run)" if missing else ""),
        f"DPaaS classes claimed: {', '.join(classes.in_order(loaded.classes))}"
        + (" (the others' scenarios are not run)" if loaded.classes != set(classes.CLASSES)
           else ""),
        f"DPaaS strict mode: {'on' if run.options.strict else 'off'}",
        f"DPaaS keyed checks: {keyed}",
    ] + ([f"DPaaS expected failures: {len(expected.entries)} entries in {expected.source}"]
         if expected is not None else [])
