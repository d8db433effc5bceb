"""Broken and differently-correct variants of the reference server, to measure the suite.

`variants()` is what `pytest steps -p tests.mutants.plugin` serves (tests/mutants/plugin.py
implements the suite's `pytest_dpaas_variants` hook), one embedded app per variant, each checked
with the scenarios it selects:
- the reference server itself (the baseline): every scenario;
- each broken variant (catalog.py, and accounts_v2.py and users_v2.py for profile v2): of the
  scenarios of its `classes` (CORE for v1's), those at its level that cite the requirement it
  breaks, and for a SHOULD fault the MUST
  scenarios that could show it too strict: those citing the ids it `watch`es, else every MUST
  scenario of its area and conformance class;
- each differently-correct variant (free.py, and free_v2.py for profile v2): the scenarios of
  its conformance `classes` (CORE unless it says otherwise), and of those only the ones of the
  areas it changes (`reach`) or citing the ids its choice touches (`ids`), where given
  (all_at_once and all_at_once_v2 make their choices together and run all of their classes).
  A scenario of an id in `not_run` may be not run on it: its choice makes the check not apply.
  `python -m tests.mutants --every-scenario` runs the correct variants on every scenario instead
  (`EVERY_SCENARIO`): slower, and it finds what a narrow selection hides, a variant's own bug
  or a check that a choice outside its areas trips.
Every variant hashes passwords with weak argon2 settings (a test-only switch the server refuses
without `allow_weak_password_hashing`), since the harness logs in thousands of times, starts with
one RSA key generated for the whole run, and (when it runs the scenarios that need more than 100
accounts) with organization A already holding 110 accounts.
"""

from __future__ import annotations

import dataclasses
import os
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
from reference_server.tokens import KEY_FILE, Keyring, SigningKey

MUST, SHOULD = "must", "should"
#: set (to anything) in the environment: every correct variant runs every scenario
EVERY_SCENARIO = "DPAAS_HARNESS_EVERY_SCENARIO"
BASELINE, MUTANT, CORRECT = "baseline", "mutant", "correct"


def weak_hashing(settings: Settings) -> Settings:
    return dataclasses.replace(settings, argon2_time_cost=1, argon2_memory_cost=8,
                               allow_weak_password_hashing=True)


@cache
def signing_key() -> rsa.RSAPrivateKey:
    """One RSA key for every variant of a run: generating one per server costs ~100 ms each."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def signing_key_pem() -> bytes:
    return signing_key().private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())


def run_keyring(data_dir: Path) -> Keyring:
    """The run's one key, as loaded once: each server of the run would otherwise check the same
    RSA key again as it loads it (~0.1 s each, for over a hundred variants)."""
    if (Path(data_dir) / KEY_FILE).read_bytes() != signing_key_pem():
        return Keyring.load_or_create(data_dir)  # a variant that brought its own key
    return Keyring(SigningKey.from_private_key(signing_key()))


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
    #: a mutant checked by every scenario of its classes, whose findings must name these ids and
    #: no other
    blames: frozenset[str] = frozenset()
    # profile v2: the classes whose scenarios judge a variant (v1's, CORE only), the ids narrowing
    # a correct variant's,
    # the ids a SHOULD mutant's MUST scenarios are watched by, and the ids a correct variant's
    # choice may leave not run
    classes: frozenset[str] = frozenset({"CORE"})
    ids: frozenset[str] = frozenset()
    watch: frozenset[str] = frozenset()
    not_run: frozenset[str] = frozenset()

    @property
    def area(self) -> str:
        return self.requirement.split("-")[0]

    def make_app(self, settings: Any) -> web.Application:
        from reference_server.app import create_app

        components = self.components
        # `==`, not `is`: each access to a classmethod makes a new bound method object.
        if components.keyring == Keyring.load_or_create:
            components = dataclasses.replace(components, keyring=run_keyring)
        app = create_app(self.settings(weak_hashing(with_key(settings))), components)
        if self.selects(MUST, ["LIST-2"]):
            app.on_startup.append(seed_accounts)  # runs after the server's own startup
        return app

    def selects(self, level: str, requirements: Sequence[str]) -> bool:
        """Only the scenarios that can judge the variant: for a mutant, the scenarios at its
        level that cite its requirement (they catch it), and for a SHOULD mutant also the MUST
        scenarios it watches, by default those of its area and class (a MUST failure there
        would make the suite too strict); for a correct variant, those of its classes, areas
        and ids."""
        from dpaas_conformance.library.classes import classes_of, scenario_class

        cls = scenario_class(requirements)
        if self.kind == BASELINE or (self.kind == CORRECT and os.environ.get(EVERY_SCENARIO)):
            return True
        if cls not in self.classes or self.spares_hostile(requirements):
            return False
        if self.kind == CORRECT:
            if self.ids:
                return any(r in self.ids for r in requirements)
            return not self.reach or any(r.split("-")[0] in self.reach for r in requirements)
        if self.blames:
            return True
        if level == self.level and self.requirement in requirements:
            return True
        if self.level != SHOULD or level != MUST:
            return False
        if self.watch:
            return any(r in self.watch for r in requirements)
        return cls in classes_of(self.requirement) and any(
            r.split("-")[0] == self.area for r in requirements)


    def spares_hostile(self, requirements: Sequence[str]) -> bool:
        """A v2 variant judged by a few ids is spared the hostile-data scenarios (ERR-5), which
        cite ACC-10 or ACC-11 only to name their class, unless it is about hostile data."""
        narrowed = (self.kind == MUTANT and self.classes != {"CORE"}) or bool(self.ids)
        about_hostile = {self.requirement, *self.ids} & {"ERR-4", "ERR-5"}
        return narrowed and not about_hostile and "ERR-5" in requirements


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


#: Variants whose server sleeps to widen a race (0.05 to 0.3 s on every call of the racy path,
#: teardowns included): their scenarios wait more than they work. The runner puts them first in
#: its processes, while the test command's other tests keep both cores busy; run last, they left
#: both cores idle for seconds at the end of the command.
WAITING = ("racy_make_default", "concurrent_defaults_demote_each_other",
           "concurrent_refreshes_win", "nonce_check_then_set")


def variants() -> dict[str, HarnessVariant]:
    from tests.mutants.accounts_v2 import MUTANTS_V2 as ACCOUNT_MUTANTS
    from tests.mutants.catalog import EXCLUSIVE, MUTANTS
    from tests.mutants.free import CORRECT_VARIANTS
    from tests.mutants.free_v2 import CORRECT_VARIANTS_V2
    from tests.mutants.service import CORRECT_VARIANTS_SERVICE, MUTANTS_SERVICE
    from tests.mutants.users_v2 import MUTANTS_V2 as USER_MUTANTS

    found: dict[str, HarnessVariant] = {"reference": HarnessVariant("reference", BASELINE)}
    for m in MUTANTS.values():
        found[m.name] = HarnessVariant(m.name, MUTANT, m.components, m.requirement, m.level,
                                       m.breaks, blames=EXCLUSIVE.get(m.name, frozenset()))
    for v in [*ACCOUNT_MUTANTS, *USER_MUTANTS, *MUTANTS_SERVICE, *CORRECT_VARIANTS_SERVICE]:
        found[v.name] = v
    found.update({v.name: v for v in CORRECT_VARIANTS})
    found.update({v.name: v for v in CORRECT_VARIANTS_V2})
    return found
