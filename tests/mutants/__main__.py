"""python -m tests.mutants [NAME ...]: the mutation table and the correct variants' results.

python -m tests.mutants --write-docs: runs every variant and rewrites the tables of
docs/testing.md (tests/test_mutation_score.py fails while they differ from the harness's results).

python -m tests.mutants --every-scenario [NAME ...]: the correct variants on every scenario, not
only on those their choice touches (several minutes; not part of the test command).

python -m tests.mutants --serve NAME [--port P]: serves one variant, with the demo principals
and a throwaway data dir, until Ctrl-C, so that a failure the suite finds in it can be replayed
by hand (see docs/checking.md, "Replay").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.mutants import CORRECT, EVERY_SCENARIO, tables, variants
from tests.mutants.runner import correct_table, mutation_table, problems, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__)
    parser.add_argument("names", nargs="*",
                        help=f"variants to run (default all {len(variants())}; the reference "
                             "server always runs, as the baseline)")
    parser.add_argument("--workers", type=int, default=2, help="pytest processes in parallel")
    parser.add_argument("--write-docs", action="store_true",
                        help="run every variant and rewrite the tables of docs/testing.md")
    parser.add_argument("--every-scenario", action="store_true",
                        help="run the correct variants (or those named) on every scenario, "
                             "not only on those of their choice's areas")
    parser.add_argument("--serve", metavar="NAME", help="serve this variant instead")
    parser.add_argument("--port", type=int, default=8000, help="with --serve (default 8000)")
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.port)
    started = time.monotonic()
    names = None if args.write_docs else args.names or None
    if args.every_scenario:
        if args.write_docs:
            parser.error("--every-scenario measures; the docs tables are the usual run's")
        os.environ[EVERY_SCENARIO] = "1"  # the harness's processes inherit it
        names = names or [n for n, v in variants().items() if v.kind == CORRECT]
    results = run(names, args.workers)
    print(mutation_table(results))
    print()
    print(correct_table(results))
    found = problems(results)
    if found:
        print("\nproblems:\n" + "\n".join(found))
    print(f"\n({time.monotonic() - started:.0f} s)")
    if args.write_docs and not results.error:
        tables.write(results)
        print(f"wrote the tables of {tables.DOC.relative_to(tables.ROOT)}")
    return 1 if found else 0


def serve(name: str, port: int) -> int:
    from aiohttp import web

    from reference_server.config import Settings

    found = variants()
    if name not in found:
        print(f"unknown variant {name!r}; known: {', '.join(sorted(found))}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix=f"dpaas-{name}-") as data_dir:
        settings = Settings(data_dir=Path(data_dir), port=port, demo=True)
        print(f"serving the variant {name} at http://127.0.0.1:{port} (demo principals, "
              "see examples/reference-demo.toml); Ctrl-C stops it", flush=True)
        web.run_app(found[name].make_app(settings), host="127.0.0.1", port=port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
