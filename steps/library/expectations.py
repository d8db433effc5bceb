"""The expectations file: the failures an implementation knows it has, so that it can adopt the
suite in CI today and shrink the list as it fixes them.

`--dpaas-expect=FILE` (TOML, or JSON when the name ends in .json) lists requirement ids and
scenario names, each with the reason it fails:

    [requirements]
    AUTH-6 = "our gateway adds Cache-Control: private (ticket OPS-12)"

    [scenarios]
    "A used refresh token is refused as unauthorized" = "we answer 400 until v3"

A failing scenario is an *expected failure* when the file names the scenario, or names every
requirement its failure blames. It does not fail the run; the verdict still says NOT CONFORMANT,
since the target still breaks those requirements. The check is strict both ways, as in
web-platform-tests and the OpenID conformance suite: an entry whose scenarios all ran and passed
fails the run ("remove it from the expectations"), so the file can only shrink. An entry that
names no scenario of the features is a configuration error, found before any scenario runs.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpaas_conformance.library.target import ConfigError

REQUIREMENTS = "requirements"
SCENARIOS = "scenarios"
KINDS = {REQUIREMENTS: "requirement", SCENARIOS: "scenario"}

# What became of an entry in a run.
FAILED_AS_EXPECTED = "failed as expected"
NOW_PASSES = "passed: remove it from the expectations"
NOT_CHECKED = "not checked: none of its scenarios ran to an end"


@dataclass(frozen=True)
class Entry:
    kind: str  # "requirement" or "scenario"
    name: str  # a requirement id, or a scenario's name as the feature file writes it
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}" if self.kind == "scenario" else self.name


@dataclass(frozen=True)
class Expectations:
    source: str
    entries: tuple[Entry, ...]

    def covering(self, scenario: str | None, blamed: Sequence[str]) -> list[Entry]:
        """The entries that expect this failure: its scenario's, or those of every id it blames."""
        by_scenario = [e for e in self.entries if e.kind == "scenario" and e.name == scenario]
        listed = {e.name: e for e in self.entries if e.kind == "requirement"}
        by_id = [listed[i] for i in blamed] if blamed and all(i in listed for i in blamed) else []
        return by_scenario + by_id

    def cites(self, entry: Entry, scenario: str | None, requirements: Sequence[str]) -> bool:
        """Whether a scenario is one of those that check the entry."""
        if entry.kind == "scenario":
            return entry.name == scenario
        return entry.name in requirements

    def check(self, scenarios: Mapping[str, Iterable[str]]) -> None:
        """Every entry names a scenario of the features ({name: its tags}), else ConfigError."""
        cited = {tag for tags in scenarios.values() for tag in tags}
        unknown = [str(e) for e in self.entries
                   if (e.name not in scenarios if e.kind == "scenario" else e.name not in cited)]
        if unknown:
            raise ConfigError(
                f"{self.source}: no scenario is named or cites {', '.join(unknown)}; each entry "
                "must be a requirement id a scenario cites (AUTH-6) or a scenario's name as its "
                "feature file writes it"
            )


def load(path: Path) -> Expectations:
    """Reads the file, refusing what it does not understand with one line that says what."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the expectations file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the expectations file {path} is not UTF-8 text") from exc
    data: Any
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        form = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise ConfigError(f"the expectations file {path} is not valid {form}: {exc}") from exc
    if not isinstance(data, dict) or set(data) - set(KINDS):
        raise ConfigError(f"{path}: expected only the tables {', '.join(KINDS)}, each mapping a "
                          "requirement id or a scenario name to the reason it fails")
    entries = []
    for table, kind in KINDS.items():
        listed = data.get(table, {})
        if not isinstance(listed, dict):
            raise ConfigError(f"{path}: [{table}] must map names to reasons")
        for name, reason in listed.items():
            if not isinstance(reason, str) or not reason.strip():
                raise ConfigError(f"{path}: {kind} {name!r} needs a reason: say why it fails, "
                                  "as text")
            entries.append(Entry(kind, name, reason.strip()))
    return Expectations(str(path), tuple(entries))
