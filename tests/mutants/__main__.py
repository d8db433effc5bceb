"""python -m tests.mutants [NAME ...]: the mutation table, and the FREE variant's verdict."""

from __future__ import annotations

import argparse
import sys
import time

from tests.mutants.catalog import MUTANTS
from tests.mutants.runner import judge_free_variant, run_all, table


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"mutants to run (default all {len(MUTANTS)})")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.monotonic()
    results = run_all(args.names or None, args.workers)
    print(table(results))
    free = judge_free_variant()
    print(f"\n{free.summary()}")
    for row in free.unexpected:
        print(f"  {row['outcome']}: {row['nodeid']}: {row['reason']}")
    print(f"({time.monotonic() - started:.0f} s)")
    missed = [r for r in results if r.verdict != "caught"]
    return 1 if missed or not free.ok else 0


if __name__ == "__main__":
    sys.exit(main())
