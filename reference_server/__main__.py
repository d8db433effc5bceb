"""Command line: `dpaas-reference-server` / `python -m reference_server`."""

from __future__ import annotations

import argparse
import logging
import resource
import sys
from pathlib import Path

from aiohttp import web

from .access_log import AccessLog
from .app import create_app
from .config import Settings, StartupError
from .demo import DEMO_PRINCIPALS, DEMO_READER
from .protocol import connection_bound
from .state import DEMO_KEY, DEMO_SEEDED, SETTINGS

EXIT_STARTUP_FAILURE = 2

log = logging.getLogger("reference_server")


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
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy (address or CIDR network) whose X-Forwarded-For header names the "
        "client, for throttling; repeat for several. Without it the header is ignored",
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
        key = app.get(DEMO_KEY)
        if key is not None:
            print("Demo service account key (reader of myorg: lists accounts and users; sign "
                  "requests with it, see /docs):")
            print(f"  access_key         {key[0]}")
            print(f"  secret_key         {key[1]}")
            print(f"  service_account_id {DEMO_READER.service_account_id}")
        print(f"API docs (try every call in the browser): {docs_url(settings)}")
        sys.stdout.flush()

    app.on_startup.append(on_startup)


def _announce_limits(app: web.Application, open_files: int) -> None:
    async def on_startup(app: web.Application) -> None:
        log.info("open-files limit %d; at most %d connections", open_files,
                 connection_bound(app[SETTINGS]))

    app.on_startup.append(on_startup)


def raise_open_files_limit() -> int:
    """Soft open-files limit up to the hard one: every connection is a file descriptor, and
    the usual soft limit (1,024) is what a flood of idle connections exhausted first."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:  # e.g. hard unlimited but capped by the kernel
            log.warning("could not raise the open-files limit from %d: %s", soft, exc)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    open_files = raise_open_files_limit()
    settings = Settings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        demo=args.demo,
        trusted_proxies=tuple(args.trusted_proxy),
    )
    try:
        app = create_app(settings)
        if settings.demo:
            _announce_demo(app, settings)
        _announce_limits(app, open_files)
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            shutdown_timeout=settings.shutdown_timeout,
            access_log_class=AccessLog,
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
