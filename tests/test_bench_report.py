"""The benchmark's per-request table says a target is out of reach only when the bare aiohttp row
of the same operation is itself past the target."""

from __future__ import annotations

from typing import Any

from tests.bench import report
from tests.bench.per_request import BARE, FLOOR


def _results(rows: dict[str, float], targets: dict[str, float]) -> dict[str, Any]:
    return {
        "date": "2026-12-03 21:00 UTC",
        "machine": {"cpu": "test", "cores": 2, "python": "3.11"},
        "load_average_before": [0.5, 0.5, 0.5],
        "per_request": {
            "filesystem": "ext4", "server_src": ".", "rounds": 1, "batch": 1,
            "floor_p50_ms": 0.25,
            "rows": [
                {"operation": name, "served": True, "n": 10, "p50_ms": 0.25 * floors,
                 "floors": floors, "target": targets.get(name)}
                for name, floors in rows.items()
            ],
        },
    }


def _verdict(table: str, operation: str) -> str:
    line = next(x for x in table.splitlines() if x.startswith(f"| {operation} |"))
    return line.rstrip(" |").rsplit("|", 1)[1].strip()


def test_a_target_below_its_bare_row_is_called_out_of_reach() -> None:
    table = report.render_per_request(_results(
        {FLOOR: 1.0, "refresh" + BARE: 3.8, "refresh": 4.6}, {"refresh": 3.0}))
    assert _verdict(table, "refresh") == "<= x3: NOT met (out of reach here: bare aiohttp x3.80)"


def test_a_target_above_its_bare_row_is_only_met_or_not() -> None:
    table = report.render_per_request(_results(
        {FLOOR: 1.0, "create" + BARE: 2.4, "create": 3.2, "list": 1.7},
        {"create": 3.0, "list": 2.0}))
    assert _verdict(table, "create") == "<= x3: NOT met"
    assert _verdict(table, "list") == "<= x2: met"
