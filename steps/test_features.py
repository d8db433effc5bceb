"""Binds every feature file to pytest: one test per scenario (and per example row)."""

from dpaas_conformance.library.paths import FEATURES_DIR
from pytest_bdd import scenarios

scenarios(str(FEATURES_DIR))
