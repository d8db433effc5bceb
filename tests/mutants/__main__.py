"""python -m tests.mutants [NAME ...]: the mutation table and the correct variants' results."""

from __future__ import annotations

import argparse
import sys
import time

from tests.mutants import variants
from tests.mutants.runner import correct_table, mutation_table, problems, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__)
    parser.add_argument("names", nargs="*",
                        help=f"variants to run (default all {len(variants())}; the reference "
                             "server always runs, as the baseline)")
    parser.add_argument("--workers", type=int, default=2, help="pytest processes in parallel")
    args = parser.parse_args()
    started = time.monotonic()
    results = run(args.names or None, args.workers)
    print(mutation_table(results))
    print()
    print(correct_table(results))
    found = problems(results)
    if found:
        print("\nproblems:\n" + "\n".join(found))
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
