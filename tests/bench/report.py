"""The benchmark's derived figures (growth ratios, login against its bound) and its table."""

from __future__ import annotations

from typing import Any

GROWTH_TARGET = 2.0
#: the operations whose cost must not grow with the accounts an organization holds
GROWTH_OPERATIONS = ("create", "list", "get", "update", "delete")
LOGIN_TARGET = 0.8


def _sample(results: dict[str, Any], label: str, operation: str, clients: int) -> dict[str, Any]:
    level = next(lv for lv in results["levels"] if lv["label"] == label)
    return next(
        s for s in level["samples"] if s["operation"] == operation and s["clients"] == clients
    )


def derive(results: dict[str, Any]) -> None:
    """Add the ratios the targets are stated in; each compares p50 latencies."""
    growth, neighbour = [], []
    for operation in GROWTH_OPERATIONS:
        for clients in (1, 16):
            small = _sample(results, "100", operation, clients)
            big = _sample(results, "10000", operation, clients)
            beside = _sample(results, "100 next to 10000", operation, clients)
            growth.append({"operation": operation, "clients": clients,
                           "p50_100": small["p50_ms"], "p50_10000": big["p50_ms"],
                           "ratio": big["p50_ms"] / small["p50_ms"]})
            neighbour.append({"operation": operation, "clients": clients,
                              "p50_alone": small["p50_ms"], "p50_beside": beside["p50_ms"],
                              "ratio": beside["p50_ms"] / small["p50_ms"]})
    results["growth"] = growth
    results["neighbour"] = neighbour
    bound = results["hashing"]["bound_req_s"]
    results["login_vs_bound"] = [
        {"label": level["label"], "req_s": login["req_s"], "bound_req_s": bound,
         "fraction": login["req_s"] / bound}
        for level in results["levels"]
        for login in [_sample(results, level["label"], "login", 16)]
    ]


def render(results: dict[str, Any]) -> str:
    """Markdown: the table the README shows, then the ratios, the chain and the suite times."""
    m = results["machine"]
    lines = [
        f"{results['date']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}; load average "
        f"{results['load_average_before'][0]:.1f} before, {results['load_average_after'][0]:.1f} "
        "after",
        "",
        "| operation | accounts | 1 client: req/s | p50 ms | p99 ms "
        "| 16 clients: req/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for level in results["levels"]:
        by_operation: dict[str, list[dict[str, Any]]] = {}
        for s in level["samples"]:
            by_operation.setdefault(s["operation"], []).append(s)
        for operation, samples in by_operation.items():
            cells = []
            for s in sorted(samples, key=lambda s: s["clients"]):
                stopped = f" ({s['n']} in {s['elapsed_s']:.0f} s)" if s["note"] else ""
                cells.append(f"{s['req_s']:.1f}{stopped} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f}")
            lines.append(f"| {operation} | {level['label']} | " + " | ".join(cells) + " |")
    lines += ["", "| growth of p50 | clients | ratio | target |", "|---|---|---|---|"]
    for g in results["growth"]:
        ok = "met" if g["ratio"] <= GROWTH_TARGET else "NOT met"
        lines.append(f"| {g['operation']}, 100 -> 10,000 accounts | {g['clients']} | "
                     f"x{g['ratio']:.2f} | <= x{GROWTH_TARGET:.0f}: {ok} |")
    for g in results["neighbour"]:
        lines.append(f"| {g['operation']}, 100 accounts, alone -> beside 10,000 | "
                     f"{g['clients']} | x{g['ratio']:.2f} | about x1 |")
    h = results["hashing"]
    shares = ", ".join(f"{100 * lv['fraction']:.0f}% ({lv['label']})"
                       for lv in results["login_vs_bound"])
    lines += [
        "",
        f"- login with 16 clients on distinct users, against the hashing bound of {h['cores']} "
        f"cores / {h['hash_ms']:.1f} ms = {h['bound_req_s']:.1f} req/s: {shares} "
        f"(target >= {100 * LOGIN_TARGET:.0f}%)",
    ]
    chain = results.get("refresh_chain")
    if chain:
        lines.append(
            f"- one refresh chain rotated {chain['rotations']} times (of {chain['requested']}) in "
            f"{chain['elapsed_s']:.0f} s: p50 {chain['first']['p50_ms']:.2f} ms over the first "
            f"200 rotations, {chain['last']['p50_ms']:.2f} ms over the last 200 "
            f"(x{chain['growth_p50']:.2f}); a new chain right after: "
            f"{chain['fresh_after']['p50_ms']:.2f} ms"
        )
    for level in results["levels"]:
        disk = ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in level["disk_bytes"].items()
                         if v >= 1024)
        lines.append(f"- {level['label']} accounts: seeded in {level['seed_s']:.1f} s, server "
                     f"ready in {level['startup_s']:.2f} s; on disk after the run: {disk}")
    for run in results.get("suite", []):
        lines.append(f"- `{run['command']}`: {run['seconds']:.0f} s (exit {run['exit']}: "
                     f"{run['summary']})")
    return "\n".join(lines)
