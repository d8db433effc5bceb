"""What the suite is pointed at: the base URL, the principals, and what it may do with time.

One fixture (`target`, in the plugin) builds this from pytest options and the TOML file they name,
so that every step reads configuration from one place. The file's form follows ceph's s3-tests:
one table per principal the target provides.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dpaas_conformance.library import classes
from dpaas_conformance.library.masking import secret

PRINCIPAL_NAMES = ("admin", "limited", "other")
ORGANIZATION_A = ("admin", "limited")  # the principals who share one organization
PRINCIPAL_FIELDS = ("email", "password", "organization_slug")
ACCESS_TOKEN_TTL = 900
BUILT_IN = "built-in reference server principals"


class ConfigError(Exception):
    """The configuration is missing or wrong: a mistake to fix, never a finding on the target."""


@dataclass(frozen=True)
class Principal:
    name: str
    email: str
    password: str
    organization_slug: str

    def __post_init__(self) -> None:
        """The password is a secret: shown masked wherever pytest prints a Principal."""
        object.__setattr__(self, "password", secret(self.password))

    def credentials(self) -> dict[str, str]:
        return {
            "email": self.email,
            "password": self.password,
            "organization_slug": self.organization_slug,
        }


@dataclass(frozen=True)
class Membership:
    """`[fixtures.membership]`: an account of the admin's organization and who is in it (USER-4)."""

    account_id: str
    members: tuple[str, ...]
    non_members: tuple[str, ...] = ()


@dataclass
class Config:
    principals: dict[str, Principal] = field(default_factory=dict)
    signing_key: Path | None = None
    signing_kid: str | None = None
    source: str = BUILT_IN
    # v2 classes: call site (see `classes`): what the target claims, and the USERS fixture
    classes: frozenset[str] = classes.DEFAULT_CLAIM
    membership: Membership | None = None
    hmac_skew_seconds: float | None = None  # SERVICE, read for the scenarios that will use it
    extra_tables: dict[str, Any] = field(default_factory=dict)  # [paths], [service_keys]


def config_path(option: str | None) -> Path | None:
    value = option or os.environ.get("DPAAS_CONFIG")
    return Path(value) if value else None


def load_config(path: Path) -> Config:
    """Reads the TOML file, refusing anything it does not understand with a clear message."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the DPaaS config {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the DPaaS config {path} is not valid TOML: {exc}") from exc
    known = {"principals", "keys", *V2_TABLES}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{path}: unknown tables {sorted(unknown)}; expected "
                          f"{', '.join(sorted(known))}")
    principals = data.get("principals", {})
    if not isinstance(principals, dict):
        raise ConfigError(f"{path}: [principals] must hold one table per principal")
    config = Config(source=str(path))
    for name, table in principals.items():
        config.principals[name] = _principal(path, name, table)
    if "admin" not in config.principals:
        raise ConfigError(
            f"{path} has no [principals.admin] table: the suite needs at least the admin "
            "principal (email, password, organization_slug)"
        )
    _check_organizations(path, config.principals)
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        raise ConfigError(f"{path}: [keys] must be a table")
    if "signing_key" in keys:
        config.signing_key = (path.parent / str(keys["signing_key"])).resolve()
        if not config.signing_key.is_file():
            raise ConfigError(f"{path}: [keys] signing_key {config.signing_key} does not exist")
    config.signing_kid = keys.get("kid")
    _load_v2(path, data, config)  # v2 classes: call site
    return config


V2_TABLES = ("target", "fixtures", "paths", "service_keys")


def _load_v2(path: Path, data: dict[str, Any], config: Config) -> None:
    """`[target]` (the classes claimed), `[fixtures.membership]`, and the SERVICE tables."""
    for name in V2_TABLES:
        if not isinstance(data.get(name, {}), dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
    target = data.get("target", {})
    unknown = set(target) - {"classes", "hmac_skew_seconds"}
    if unknown:
        raise ConfigError(f"{path}: [target] has unknown keys {sorted(unknown)}; expected "
                          "classes, hmac_skew_seconds")
    if "classes" in target:
        try:
            config.classes = classes.parse_classes(target["classes"], str(path))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    skew = target.get("hmac_skew_seconds")
    if skew is not None:
        if isinstance(skew, bool) or not isinstance(skew, int | float) or skew <= 0:
            raise ConfigError(f"{path}: [target] hmac_skew_seconds must be a positive number")
        config.hmac_skew_seconds = float(skew)
    fixtures = data.get("fixtures", {})
    unknown = set(fixtures) - {"membership"}
    if unknown:
        raise ConfigError(f"{path}: unknown fixtures {sorted(unknown)}; expected membership")
    if "membership" in fixtures:
        config.membership = _membership(path, fixtures["membership"])
    config.extra_tables = {n: data[n] for n in ("paths", "service_keys") if n in data}


def _membership(path: Path, table: Any) -> Membership:
    where = f"{path}: [fixtures.membership]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(table) - {"account_id", "members", "non_members"}
    if unknown:
        raise ConfigError(f"{where} has unknown keys {sorted(unknown)}")
    account_id = table.get("account_id")
    if not isinstance(account_id, str) or not account_id:
        raise ConfigError(f"{where} needs account_id, the id of an account of the admin's "
                          "organization (a string)")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("members", "non_members"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}: {key} must be a list of email addresses")
        lists[key] = tuple(value)
    if not lists["members"]:
        raise ConfigError(f"{where} needs at least one member (an email address)")
    both = {m.casefold() for m in lists["members"]} & {
        m.casefold() for m in lists["non_members"]}
    if both:
        raise ConfigError(f"{where}: {sorted(both)} cannot be both a member and a non-member")
    return Membership(account_id, lists["members"], lists["non_members"])


def _check_organizations(path: Path, principals: dict[str, Principal]) -> None:
    """limited shares the admin's organization and other does not: isolation scenarios would
    otherwise blame the target for a configuration that describes something else."""
    home = principals["admin"].organization_slug.casefold()
    limited, other = principals.get("limited"), principals.get("other")
    if limited and limited.organization_slug.casefold() != home:
        raise ConfigError(f"{path}: [principals.limited] must be in the admin's organization "
                          f"({principals['admin'].organization_slug})")
    if other and other.organization_slug.casefold() == home:
        raise ConfigError(f"{path}: [principals.other] must be in another organization than "
                          f"the admin's ({principals['admin'].organization_slug})")


def _principal(path: Path, name: str, table: Any) -> Principal:
    if name not in PRINCIPAL_NAMES:
        raise ConfigError(
            f"{path}: unknown principal [principals.{name}]; known: {', '.join(PRINCIPAL_NAMES)}"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [principals.{name}] must be a table")
    missing = [f for f in PRINCIPAL_FIELDS if not isinstance(table.get(f), str) or not table[f]]
    if missing:
        raise ConfigError(f"{path}: [principals.{name}] needs non-empty strings for {missing}")
    return Principal(name, *(table[f] for f in PRINCIPAL_FIELDS))


def builtin_config() -> Config:
    """The principals the reference server seeds in a fresh database."""
    from reference_server.demo import DEMO_ACCOUNT_IDS, DEMO_PRINCIPALS

    return Config(
        principals={
            name: Principal(name, p.email, p.password, p.organization_slug)
            for name, p in DEMO_PRINCIPALS.items()
        },
        # v2 classes: call site; the reference server implements CORE, ACCOUNTS and USERS
        classes=frozenset({classes.CORE, classes.ACCOUNTS, classes.USERS}),
        membership=Membership(DEMO_ACCOUNT_IDS[("myorg", "Development")],
                              (DEMO_PRINCIPALS["admin"].email,),
                              (DEMO_PRINCIPALS["limited"].email,)),
    )


@dataclass
class Target:
    base_url: str
    config: Config
    clock: Any = None  # the embedded server's ManualClock, when the suite runs it
    variant: str | None = None  # the embedded variant's name, when the suite runs several

    def principal(self, name: str) -> Principal:
        try:
            return self.config.principals[name]
        except KeyError:
            # "not run: WHY; WHAT TO DO": the verdict says what was not checked, and WHY.
            pytest.skip(
                f'not run: no "{name}" principal; add [principals.{name}] to the DPaaS config '
                f"({self.config.source})"
            )
            raise  # unreachable; pytest.skip raises

    @property
    def membership(self) -> Membership:
        """The membership fixture; a scenario that needs it is not run without it."""
        if self.config.membership is None:
            pytest.skip(
                "not run: needs [fixtures.membership] (an account of the admin's organization, "
                f"its members and some non-members) in the DPaaS config ({self.config.source})"
            )
        return self.config.membership

    @property
    def passwords(self) -> tuple[str, ...]:
        return tuple(p.password for p in self.config.principals.values())

    @property
    def organization_a(self) -> list[Principal]:
        """The configured principals of the admin's organization."""
        return [self.config.principals[n] for n in ORGANIZATION_A if n in self.config.principals]

    @property
    def can_expire_tokens(self) -> str | None:
        """None when the suite can make an expired token, else the reason it cannot."""
        if self.clock is not None or self.config.signing_key is not None:
            return None
        return (
            "not run: no [keys] signing_key; making an expired token needs the target's signing "
            "key: set [keys] signing_key (and kid) in the DPaaS config"
        )

    @property
    def keyed_tier(self) -> str:
        """Whether the checks that need a token signed with the target's key can run."""
        if self.clock is not None:
            return "on (the embedded server's clock)"
        if self.config.signing_key is not None:
            return (f"on (signing key {self.config.signing_key}: an expired token, and the "
                    "HS256 key-confusion check)")
        return ("off (no [keys] signing_key: the expired-token scenario is not run, and the HS256 "
                "key-confusion check runs only with a key of the JWK Set that verifies the "
                "target's token)")
