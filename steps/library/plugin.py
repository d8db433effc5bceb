"""The suite's pytest plugin (entry point `dpaas`, group pytest11): a dispatcher over its parts.

pytest loads it in every run of an environment where the suite is installed - a user's own
unrelated tests, pytester runs - so it only adds its options and hook specs, and stays inert
unless the run includes the suite's scenarios: an argument (or testpath) that is the suite's
package or lies inside it (`dpaas-conformance`, `pytest --pyargs dpaas_conformance`, `pytest
steps` in a checkout), or, in a checkout, a directory that holds it (`pytest` at its root). A
conftest can also call `activate(config)` (the suite's own tests do, for small projects).

Once active, it registers its parts, each with one job:
- `startup`: the principals, the expectations file and the preflight; the run's header;
- `selection`: tags to markers, embedded variants, the requirement filter, the order;
- `fixtures`: the `target` and the `api` client;
- the step definitions, every module of the suite's package (`dpaas_conformance.common`, ...);
- `judging`: each scenario's outcome and its failure, written for a person;
- `reports` (controller only): the verdict, the exit status, the JSON and HTML reports.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from dpaas_conformance.library import hooks
from dpaas_conformance.library.options import add_options
from dpaas_conformance.library.paths import SUITE_DIR

# Again here, where pytest's rewrite hook surely exists: `dpaas-conformance` imports the package
# before pytest starts, when the package's own call marks nothing (and an editable install's
# RECORD names no module for pytest to mark).
pytest.register_assert_rewrite("dpaas_conformance")

PARTS = ("startup", "selection", "fixtures", "judging")
#: modules of the suite's package that hold no steps: public library code for users
NOT_STEPS = frozenset({"hmac_auth"})
ACTIVE = pytest.StashKey[bool]()
INSTALLED = any(part in ("site-packages", "dist-packages") for part in SUITE_DIR.parts)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if runs_the_suite(config):
        activate(config)


def runs_the_suite(config: pytest.Config) -> bool:
    """Whether the run's arguments (or testpaths) include the suite's scenarios."""
    if config.option.pyargs and any(
        arg.split("::")[0] == "dpaas_conformance"
        or arg.split("::")[0].startswith("dpaas_conformance.") for arg in config.args
    ):
        return True
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path.is_relative_to(SUITE_DIR) or (not INSTALLED and SUITE_DIR.is_relative_to(path)):
            return True
    return False


def step_modules() -> list[str]:
    """Every module of the suite's package holds step definitions (the layout says so)."""
    return sorted(f"dpaas_conformance.{m.name}" for m in pkgutil.iter_modules([str(SUITE_DIR)])
                  if not m.ispkg and not m.name.startswith("test_") and m.name not in NOT_STEPS)


def activate(config: pytest.Config) -> None:
    """Registers the suite's parts and step definitions for this run (once)."""
    if config.stash.get(ACTIVE, False):
        return
    config.stash[ACTIVE] = True
    manager = config.pluginmanager
    for part in PARTS:
        manager.import_plugin(f"dpaas_conformance.library.{part}")
    for module in step_modules():
        manager.import_plugin(module)
    if not hasattr(config, "workerinput"):  # the controller: it sees every report
        # By module name, not `from dpaas_conformance.library import reports`: pytester forgets
        # the modules an inline run imported, and the package would hand back a stale one.
        importlib.import_module("dpaas_conformance.library.reports").register(config)
