"""Where the suite's own files are, found by import: the same in a wheel and in a checkout."""

from __future__ import annotations

from pathlib import Path

import dpaas_conformance
import dpaas_conformance.examples
import dpaas_conformance.features

#: The suite's package: the repository's steps/, the wheel's dpaas_conformance/.
SUITE_DIR = Path(dpaas_conformance.__file__).resolve().parent

#: The Gherkin feature files (the repository's features/, the wheel's dpaas_conformance/features).
FEATURES_DIR = Path(dpaas_conformance.features.__file__).resolve().parent

#: The module that binds every scenario to pytest.
SCENARIOS_MODULE = SUITE_DIR / "test_features.py"

#: The principals of `dpaas-reference-server --demo`: the form of a config for any implementation.
EXAMPLE_CONFIG = Path(dpaas_conformance.examples.__file__).resolve().parent / "reference-demo.toml"
