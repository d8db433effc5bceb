"""The suite's command-line options, and the typed view of them every part of the plugin reads.

Registered through the plugin's entry point (pytest11), so they exist before pytest parses the
command line: `--dpaas-config PATH` works as well as `--dpaas-config=PATH`, from any directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from dpaas_conformance.library import limits

DETAILS = ("first", "all")


def add_options(parser: pytest.Parser) -> None:
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
        help="write the verdict and every scenario's level, requirements, outcome, failure, "
        "exchanges and replay as JSON",
    )
    group.addoption(
        "--dpaas-expect",
        metavar="PATH",
        help="TOML or JSON file of the requirement ids and scenario names the target is known "
        "to fail, each with its reason: they show as expected failures and do not fail the run; "
        "one that passes does",
    )
    group.addoption(
        "--dpaas-details",
        choices=DETAILS,
        default="first",
        help="where the terminal shows a failure's HTTP exchanges and replay: under the first "
        "failure of each cause (default), or under all (the JSON and HTML reports always hold "
        "all)",
    )
    limits.add_options(group)
    parser.addini(
        "dpaas_features",
        "the feature files the suite's scenarios come from, for the expectations file and the "
        "list of what was not checked (default: the suite's own; the suite's tests use others)",
        type="paths",
    )


@dataclass(frozen=True)
class Options:
    base_url: str | None
    config_file: str | None
    strict: bool
    requirements: tuple[str, ...]  # ids or prefixes; empty: every scenario
    report: Path | None
    expect: Path | None
    details: str

    @classmethod
    def of(cls, config: pytest.Config) -> Options:
        base_url = config.getoption("base_url", None)
        wanted = config.getoption("dpaas_requirements") or ""
        report, expect = config.getoption("dpaas_report"), config.getoption("dpaas_expect")
        return cls(
            base_url=base_url.rstrip("/") if base_url else None,
            config_file=config.getoption("dpaas_config"),
            strict=bool(config.getoption("dpaas_strict")),
            requirements=tuple(w.strip() for w in wanted.split(",") if w.strip()),
            report=Path(report) if report else None,
            expect=Path(expect) if expect else None,
            details=config.getoption("dpaas_details"),
        )
