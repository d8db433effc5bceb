"""Broken and differently-correct variants of the reference server, to measure the suite."""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web


def create_app(settings: Any) -> web.Application:
    """The factory --dpaas-app-factory loads: the variant named by $DPAAS_MUTANT."""
    from reference_server.app import create_app as real
    from tests.mutants.catalog import MUTANTS
    from tests.mutants.free import FREE_VARIANTS

    name = os.environ["DPAAS_MUTANT"]
    components = FREE_VARIANTS[name] if name in FREE_VARIANTS else MUTANTS[name].components
    return real(settings, components)
