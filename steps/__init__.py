"""The DPaaS conformance suite: step definitions, one module per domain, and beside them the
library they use (`steps/library/`: the pytest plugin, the HTTP client, the target, the requirement
registry, the schemas, the verdict and the embedded server); and `hmac_auth`, the request signer
that applications may import on its own (it needs only httpx).

Imported as `dpaas_conformance`. Under pytest its modules are marked for pytest's assertion
rewriting here, before any of them is imported, so that a failing step shows the values it
compared: pytest does that by itself for a wheel (from the distribution's RECORD) but not for an
editable install, whose RECORD names no module of the package. (This file itself has nothing to
rewrite, and `dpaas-conformance` imports it before pytest starts: PYTEST_DONT_REWRITE.) Outside
pytest nothing of pytest is imported, so that the signer stays light.
"""

import pkgutil
import sys

if "pytest" in sys.modules:  # every way the suite runs has imported pytest first
    import pytest

    pytest.register_assert_rewrite(
        *(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)))
