"""What the suite is pointed at: the base URL, the principals, and what it may do with time.

One fixture (`target`, in steps/plugin.py) builds this from pytest options, the DPAAS_CONFIG
environment variable or the TOML file they name, so that every step reads configuration from one
place. The file's form follows ceph's s3-tests: one table per principal the target provides.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PRINCIPAL_NAMES = ("admin", "limited", "other")
PRINCIPAL_FIELDS = ("email", "password", "organization_slug")
ACCESS_TOKEN_TTL = 900


class ConfigError(pytest.UsageError):
    pass


@dataclass(frozen=True)
class Principal:
    name: str
    email: str
    password: str
    organization_slug: str

    def credentials(self) -> dict[str, str]:
        return {
            "email": self.email,
            "password": self.password,
            "organization_slug": self.organization_slug,
        }


@dataclass
class Config:
    principals: dict[str, Principal] = field(default_factory=dict)
    signing_key: Path | None = None
    signing_kid: str | None = None
    source: str = "built-in reference server principals"


def config_path(option: str | None) -> Path | None:
    value = option or os.environ.get("DPAAS_CONFIG")
    return Path(value) if value else None


def load_config(path: Path) -> Config:
    """Reads the TOML file, refusing anything it does not understand with a clear message."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the DPaaS config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the DPaaS config {path} is not valid TOML: {exc}") from exc
    unknown = set(data) - {"principals", "keys"}
    if unknown:
        raise ConfigError(f"{path}: unknown tables {sorted(unknown)}; expected principals, keys")
    config = Config(source=str(path))
    for name, table in data.get("principals", {}).items():
        config.principals[name] = _principal(path, name, table)
    keys = data.get("keys", {})
    if "signing_key" in keys:
        config.signing_key = (path.parent / keys["signing_key"]).resolve()
        if not config.signing_key.is_file():
            raise ConfigError(f"{path}: [keys] signing_key {config.signing_key} does not exist")
    config.signing_kid = keys.get("kid")
    return config


def _principal(path: Path, name: str, table: Any) -> Principal:
    if name not in PRINCIPAL_NAMES:
        raise ConfigError(
            f"{path}: unknown principal [principals.{name}]; known: {', '.join(PRINCIPAL_NAMES)}"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [principals.{name}] must be a table")
    missing = [f for f in PRINCIPAL_FIELDS if not isinstance(table.get(f), str)]
    if missing:
        raise ConfigError(f"{path}: [principals.{name}] needs string values for {missing}")
    return Principal(name, *(table[f] for f in PRINCIPAL_FIELDS))


def builtin_config() -> Config:
    """The principals the reference server seeds in a fresh database."""
    from reference_server.demo import DEMO_PRINCIPALS

    return Config(
        principals={
            name: Principal(name, p.email, p.password, p.organization_slug)
            for name, p in DEMO_PRINCIPALS.items()
        }
    )


@dataclass
class Target:
    base_url: str
    config: Config
    clock: Any = None  # steps.embedded.ManualClock of the embedded server, when the suite runs it

    def principal(self, name: str) -> Principal:
        try:
            return self.config.principals[name]
        except KeyError:
            pytest.skip(
                f"not run: needs the '{name}' principal; add [principals.{name}] to the "
                f"DPaaS config ({self.config.source})"
            )
            raise  # unreachable; pytest.skip raises

    @property
    def can_expire_tokens(self) -> str | None:
        """None when the suite can make an expired token, else the reason it cannot."""
        if self.clock is not None or self.config.signing_key is not None:
            return None
        return (
            "not run: making an expired token needs the target's signing key; set "
            "[keys] signing_key (and kid) in the DPaaS config"
        )
