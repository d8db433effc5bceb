"""Command line: `dpaas-reference-server` / `python -m reference_server`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from .app import create_app
from .config import Settings, StartupError
from .demo import DEMO_PRINCIPALS
from .state import DEMO_SEEDED

EXIT_STARTUP_FAILURE = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dpaas-reference-server", description="DPaaS reference API server"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="database and key directory"
    )
    parser.add_argument(
        "--demo", action="store_true", help="seed demo organizations and users in an empty DB"
    )
    return parser.parse_args(argv)


def docs_url(settings: Settings) -> str:
    """Where a person can read and try the API (a wildcard address is reached as localhost)."""
    host = "localhost" if settings.host in ("", "0.0.0.0", "::") else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/docs"


def _announce_demo(app: web.Application, settings: Settings) -> None:
    async def on_startup(app: web.Application) -> None:
        if app[DEMO_SEEDED]:
            print("Demo data created. Principals (email / password / organization_slug):")
            for name, p in DEMO_PRINCIPALS.items():
                print(f"  {name:<8} {p.email} / {p.password} / {p.organization_slug}")
        print(f"API docs (try every call in the browser): {docs_url(settings)}")
        sys.stdout.flush()

    app.on_startup.append(on_startup)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings(data_dir=args.data_dir, host=args.host, port=args.port, demo=args.demo)
    try:
        app = create_app(settings)
        if settings.demo:
            _announce_demo(app, settings)
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            shutdown_timeout=settings.shutdown_timeout,
            print=lambda *a: print(*a, flush=True),
        )
    except StartupError as exc:
        print(f"dpaas-reference-server: cannot start: {exc}", file=sys.stderr)
        return EXIT_STARTUP_FAILURE
    except (OSError, ValueError) as exc:
        print(f"dpaas-reference-server: cannot start: {exc}", file=sys.stderr)
        return EXIT_STARTUP_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
