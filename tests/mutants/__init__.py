"""Broken and differently-correct variants of the reference server, to measure the suite.

`variants()` is what `pytest steps -p tests.mutants.plugin` serves (tests/mutants/plugin.py
implements the suite's `pytest_dpaas_variants` hook), one embedded app per variant, each checked
with the scenarios it selects:
- the reference server itself (the baseline): every scenario;
- each broken variant (catalog.py): the scenarios at its level that cite the requirement it
  breaks, and for a SHOULD fault every MUST scenario of its area, so that a MUST failure it causes
  shows up as "too strict";
- each differently-correct variant (free.py): every scenario, or for a choice whose `reach` is
  given, the scenarios of the areas it changes (all_at_once makes that choice too, and runs
  every scenario).
Every variant hashes passwords with weak argon2 settings (a test-only switch the server refuses
without `allow_weak_password_hashing`), since the harness logs in thousands of times, starts with
one RSA key generated for the whole run, and (when it runs the scenarios that need more than 100
accounts) with organization A already holding 110 accounts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from reference_server.app import Components
from reference_server.config import Settings
from reference_server.tokens import KEY_FILE

MUST, SHOULD = "must", "should"
BASELINE, MUTANT, CORRECT = "baseline", "mutant", "correct"


def weak_hashing(settings: Settings) -> Settings:
    return dataclasses.replace(settings, argon2_time_cost=1, argon2_memory_cost=8,
                               allow_weak_password_hashing=True)


@cache
def signing_key_pem() -> bytes:
    """One RSA key for every variant of a run: generating one per server costs ~100 ms each."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def with_key(settings: Settings) -> Settings:
    """The data dir gets the run's key, which the server loads instead of generating one."""
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(signing_key_pem())
        path.chmod(0o600)
    return settings


@dataclass(frozen=True)
class HarnessVariant:
    name: str
    kind: str
    components: Components = field(default_factory=Components)
    requirement: str = ""  # a mutant's broken requirement
    level: str = ""  # ... and its level
    breaks: str = ""  # ... in words
    expected_warnings: frozenset[str] = frozenset()  # a correct variant's SHOULD warnings
    why: str = ""  # a correct variant's choice, in words
    reach: tuple[str, ...] = ()  # a correct variant judged only by these areas' scenarios
    settings: Callable[[Settings], Settings] = field(default=lambda s: s)
    #: a mutant checked by every scenario, whose findings must name these ids and no other
    blames: frozenset[str] = frozenset()

    @property
    def area(self) -> str:
        return self.requirement.split("-")[0]

    def make_app(self, settings: Any) -> web.Application:
        from reference_server.app import create_app

        app = create_app(self.settings(weak_hashing(with_key(settings))), self.components)
        if self.selects(MUST, ["LIST-2"]):
            app.on_startup.append(seed_accounts)  # runs after the server's own startup
        return app

    def selects(self, level: str, requirements: Sequence[str]) -> bool:
        """Only the scenarios that can judge the variant: for a mutant, the scenarios at its
        level that cite its requirement (they catch it), and for a SHOULD mutant also every MUST
        scenario of its area (a MUST failure there would make the suite too strict)."""
        if self.kind != MUTANT:
            return not self.reach or any(r.split("-")[0] in self.reach for r in requirements)
        if self.blames:
            return True
        if level == self.level and self.requirement in requirements:
            return True
        return self.level == SHOULD and level == MUST and any(
            r.split("-")[0] == self.area for r in requirements)


SEEDED_ACCOUNTS = 110


async def seed_accounts(app: web.Application) -> None:
    """Organization A starts with more than 100 accounts, made through the store's public
    create (not over HTTP): the list scenarios that need that many find them already there,
    which spares every variant a hundred requests. The suite must cope with existing data."""
    from reference_server.demo import DEMO_PRINCIPALS
    from reference_server.state import STORE

    store = app[STORE]
    admin = DEMO_PRINCIPALS["admin"]
    user = await store.find_login_user(admin.organization_slug, admin.email)
    if user is None:
        return
    for n in range(SEEDED_ACCOUNTS):
        await store.create_account(user["organization_id"], f"Seeded account {n:03d}")


def scenario_tags() -> list[tuple[str, list[str]]]:
    """(level, requirement ids) of every scenario of every feature, as the plugin reads them."""
    from dpaas_conformance.library.paths import FEATURES_DIR as features
    from pytest_bdd.parser import FeatureParser

    found = []
    for path in sorted(features.glob("*.feature")):
        feature = FeatureParser(str(features), path.name).parse()
        for scenario in feature.scenarios.values():
            tags = set(scenario.tags) | feature.tags
            level = next(t for t in tags if t in (MUST, SHOULD))
            ids = sorted(t for t in tags if t[:1].isupper())
            rows = sum(len(list(e.as_contexts())) for e in scenario.examples) or 1
            found += [(level, ids)] * rows
    return found


def variants() -> dict[str, HarnessVariant]:
    from tests.mutants.catalog import EXCLUSIVE, MUTANTS
    from tests.mutants.free import CORRECT_VARIANTS

    found: dict[str, HarnessVariant] = {"reference": HarnessVariant("reference", BASELINE)}
    for m in MUTANTS.values():
        found[m.name] = HarnessVariant(m.name, MUTANT, m.components, m.requirement, m.level,
                                       m.breaks, blames=EXCLUSIVE.get(m.name, frozenset()))
    found.update({v.name: v for v in CORRECT_VARIANTS})
    return found
