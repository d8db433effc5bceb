"""What the suite is pointed at: the base URL, the principals, and what it may do with time.

One fixture (`target`, in the plugin) builds this from pytest options and the TOML file they name,
so that every step reads configuration from one place. The file's form follows ceph's s3-tests:
one table per principal the target provides.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


#: `[paths]` keys and the profile's defaults (SERVICE); each names its placeholders
DEFAULT_PATHS = {
    "service_account_create": "/service-accounts",
    "key_issue": "/service-accounts/{id}/keys",
    "key_list": "/service-accounts/{id}/keys",
    "key_revoke": "/service-accounts/{id}/keys/{key_id}",
}
PLACEHOLDERS = {"service_account_create": (), "key_issue": ("id",), "key_list": ("id",),
                "key_revoke": ("id", "key_id")}
SERVICE_KEY_NAMES = ("reader",)


@dataclass(frozen=True)
class ServicePaths:
    """`[paths]`: where the target creates service accounts and issues, lists and revokes keys
    (the profile's defaults where the config is silent). Ids are percent-encoded into them."""

    service_account_create: str = DEFAULT_PATHS["service_account_create"]
    key_issue: str = DEFAULT_PATHS["key_issue"]
    key_list: str = DEFAULT_PATHS["key_list"]
    key_revoke: str = DEFAULT_PATHS["key_revoke"]

    def of(self, name: str, **ids: Any) -> str:
        template: str = getattr(self, name)
        for placeholder, value in ids.items():
            template = template.replace("{" + placeholder + "}", quote(str(value), safe=""))
        return template


@dataclass(frozen=True)
class ServiceKey:
    """`[service_keys.NAME]`: a key of a service account of organization A that may list
    accounts and users (SERVICE's checks that need a signed request to succeed)."""

    name: str
    access_key: str
    secret_key: str
    service_account_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "secret_key", secret(self.secret_key))


@dataclass
class Config:
    principals: dict[str, Principal] = field(default_factory=dict)
    signing_key: Path | None = None
    signing_kid: str | None = None
    source: str = BUILT_IN
    # v2 classes: call site (see `classes`): what the target claims, and the USERS fixture
    classes: frozenset[str] = classes.DEFAULT_CLAIM
    membership: Membership | None = None
    hmac_skew_seconds: float | None = None  # SERVICE: the x-date window the target declares
    paths: ServicePaths = field(default_factory=ServicePaths)  # SERVICE: [paths]
    service_keys: dict[str, ServiceKey] = field(default_factory=dict)  # [service_keys.NAME]


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
    config.paths = _paths(path, data.get("paths", {}))
    keys = data.get("service_keys", {})
    for name, table in keys.items():
        config.service_keys[name] = _service_key(path, name, table)


def _paths(path: Path, table: dict[str, Any]) -> ServicePaths:
    unknown = set(table) - set(DEFAULT_PATHS)
    if unknown:
        raise ConfigError(f"{path}: [paths] has unknown keys {sorted(unknown)}; expected "
                          f"{', '.join(DEFAULT_PATHS)}")
    for key, value in table.items():
        if not isinstance(value, str) or not value.startswith("/"):
            raise ConfigError(f"{path}: [paths] {key} must be a path starting with /, such as "
                              f"{DEFAULT_PATHS[key]!r}")
        missing = [p for p in PLACEHOLDERS[key] if "{" + p + "}" not in value]
        if missing:
            raise ConfigError(f"{path}: [paths] {key} = {value!r} must hold "
                              + " and ".join("{" + p + "}" for p in missing))
    return ServicePaths(**table)


def _service_key(path: Path, name: str, table: Any) -> ServiceKey:
    where = f"{path}: [service_keys.{name}]"
    if name not in SERVICE_KEY_NAMES:
        raise ConfigError(f"{path}: unknown key [service_keys.{name}]; known: "
                          f"{', '.join(SERVICE_KEY_NAMES)}")
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(table) - {"access_key", "secret_key", "service_account_id"}
    if unknown:
        raise ConfigError(f"{where} has unknown keys {sorted(unknown)}")
    missing = [f for f in ("access_key", "secret_key")
               if not isinstance(table.get(f), str) or not table[f]]
    if missing:
        raise ConfigError(f"{where} needs non-empty strings for {missing}")
    owner = table.get("service_account_id")
    if owner is not None and (not isinstance(owner, str) or not owner):
        raise ConfigError(f"{where}: service_account_id must be the service account's id")
    return ServiceKey(name, table["access_key"], table["secret_key"], owner)


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
    from reference_server.config import Settings
    from reference_server.demo import DEMO_ACCOUNT_IDS, DEMO_PRINCIPALS, DEMO_READER

    return Config(
        principals={
            name: Principal(name, p.email, p.password, p.organization_slug)
            for name, p in DEMO_PRINCIPALS.items()
        },
        # v2 classes: call site; the reference server implements every class
        classes=frozenset(classes.CLASSES),
        membership=Membership(DEMO_ACCOUNT_IDS[("myorg", "Development")],
                              (DEMO_PRINCIPALS["admin"].email,),
                              (DEMO_PRINCIPALS["limited"].email,)),
        hmac_skew_seconds=float(Settings.hmac_skew_seconds),
        service_keys={"reader": ServiceKey("reader", DEMO_READER.access_key,
                                           DEMO_READER.secret_key,
                                           DEMO_READER.service_account_id)},
    )


@dataclass
class Target:
    base_url: str
    config: Config
    clock: Any = None  # the embedded server's ManualClock, when the suite runs it
    variant: str | None = None  # the embedded variant's name, when the suite runs several
    #: restarts the embedded server on the same address, its data kept (None: not the suite's)
    restart: Callable[[], None] | None = None

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
    def secrets(self) -> tuple[str, ...]:
        """Every configured secret: the passwords and the service keys' secrets."""
        return self.passwords + tuple(k.secret_key for k in self.config.service_keys.values())

    def service_key(self, name: str) -> ServiceKey:
        """A configured service key; a scenario that needs it is not run without it."""
        key = self.config.service_keys.get(name)
        if key is None:
            pytest.skip(
                f"not run: needs [service_keys.{name}] (the key of a service account of the "
                f"admin's organization that may list accounts and users) in the DPaaS config "
                f"({self.config.source})")
        return key  # type: ignore[return-value]

    def reader_service_account(self) -> str:
        """The id of the reader key's service account, for the checks that issue it keys."""
        key = self.service_key("reader")
        if key.service_account_id is None:
            pytest.skip("not run: needs service_account_id in [service_keys.reader] (the "
                        "reader's service account, to issue it keys with an allowlist) in the "
                        f"DPaaS config ({self.config.source})")
        return str(key.service_account_id)

    @property
    def paths(self) -> ServicePaths:
        return self.config.paths

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
