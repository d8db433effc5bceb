"""Where the suite's own files are, found by import: the same in a wheel and in a checkout."""

from __future__ import annotations

from pathlib import Path

import dpaas_conformance.features

#: The Gherkin feature files (the repository's features/, the wheel's dpaas_conformance/features).
FEATURES_DIR = Path(dpaas_conformance.features.__file__).resolve().parent
