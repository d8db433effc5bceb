"""dpaas-conformance: the suite in one command, from any directory, with only the package installed.

    dpaas-conformance [--base-url URL --config FILE] [any pytest option: -n 2, --junitxml PATH, ...]

Without --base-url it checks the embedded reference server. It runs pytest on the installed
scenarios only, with pytest's own configuration files ignored (`-c` the null device) and its
cache off, so that nothing of the current directory - a `steps/` package of your own, a
pytest.ini, a conftest.py - mixes with the suite, and nothing is written into site-packages.
The exit status is the verdict's: 0 CONFORMANT, 1 NOT CONFORMANT, 4 INCONCLUSIVE.

The same run in pure pytest (your pytest configuration then applies):

    pytest --pyargs dpaas_conformance --base-url URL --dpaas-config FILE -p no:cacheprovider
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import pytest
from dpaas_conformance.library.paths import EXAMPLE_CONFIG, SCENARIOS_MODULE, SUITE_DIR

EPILOG = """\
Any other option is pytest's or the suite's (pytest --help lists them under "DPaaS conformance
suite"), for example: -n 2, --junitxml PATH, --html PATH --self-contained-html, --dpaas-report
PATH, --dpaas-expect PATH, --dpaas-strict, --dpaas-requirements IDS. Exit status: 0 CONFORMANT,
1 NOT CONFORMANT, 4 INCONCLUSIVE (nothing judged: a setup mistake, said in one line)."""


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(
        prog="dpaas-conformance", allow_abbrev=False, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check a DPaaS implementation against the conformance suite (without "
                    "--base-url: the embedded reference server).")
    found.add_argument("--base-url", metavar="URL", help="the implementation to check")
    found.add_argument("--config", metavar="FILE",
                       help="TOML file naming its principals (default: $DPAAS_CONFIG); see "
                            "--example-config")
    found.add_argument("--example-config", action="store_true",
                       help="print the config of `dpaas-reference-server --demo` and exit: "
                            "the form to fill in for your implementation")
    return found


def pytest_args(base_url: str | None, config: str | None, rest: Sequence[str]) -> list[str]:
    args = [str(SCENARIOS_MODULE), "-c", os.devnull, "--rootdir", str(SUITE_DIR),
            "-p", "no:cacheprovider"]
    if base_url:
        args.append(f"--base-url={base_url}")
    if config:
        args.append(f"--dpaas-config={config}")
    return [*args, *rest]


def main(argv: Sequence[str] | None = None) -> int:
    options, rest = parser().parse_known_args(argv)
    if options.example_config:
        sys.stdout.write(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
        return 0
    return int(pytest.main(pytest_args(options.base_url, options.config, rest)))


if __name__ == "__main__":
    sys.exit(main())
