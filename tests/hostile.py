"""Hostile targets: servers that answer in ways meant to hang the suite, exhaust its memory, or
make it print a secret.

Each is an aiohttp middleware put in front of a real app (the tiny target in the pytester tests,
the reference server for the measurements), hostile to the requests whose path it names:
- `drip`: the body one byte every DRIP_INTERVAL seconds, behind a Content-Length that promises all
  of it (no read ever waits long, so only a deadline per request ends it);
- `stall`: nothing at all, the connection held open;
- `inflate`: a 1 MB gzip body that inflates to 1 GiB of zeros (`inflate_nested`: two layers);
- `flood`: 10,000 response headers;
- `cut`: a Content-Length of twice the body, and the connection closed halfway;
- `deep`: a JSON body nested 100,000 levels deep;
- `huge`: a JSON list page of 20 MiB; `crowded`: 5 MiB holding 1.7 million empty objects;
- `echo`: every 401 (and every error) echoes the password it was sent in its message.

`with_menagerie` serves every mode at once, each at its own path (`/hostile/drip`, ...), so that
one run of the suite meets them all.

`python -m tests.hostile MODE [--port P] [--paths /accounts,...]` serves the reference server
(demo principals, see examples/reference-demo.toml) behind one of them, for the measurements in
docs/testing.md ("Hostile targets").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import tempfile
import zlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

DRIP_INTERVAL = 1.0
STOPPING = web.AppKey("hostile_stopping", asyncio.Event)
ZEROS = 1 << 20
MODES = ("drip", "stall", "inflate", "inflate_nested", "flood", "cut", "deep", "huge", "crowded",
         "echo")


@cache
def gzip_bomb(mebibytes: int = 1024) -> bytes:
    """A valid gzip stream of `mebibytes` MiB of zeros, about 1 KiB per MiB.

    After a full flush deflate starts afresh, so one compressed MiB repeats byte for byte.
    """
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(ZEROS)
    squeeze.compress(zeros)
    squeeze.flush(zlib.Z_FULL_FLUSH)
    block = squeeze.compress(zeros) + squeeze.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    size = (mebibytes * ZEROS) & 0xFFFFFFFF
    return (header + block * mebibytes + squeeze.flush(zlib.Z_FINISH)
            + struct.pack("<II", crc, size))


@cache
def nested_bomb(mebibytes: int = 1024) -> bytes:
    """gzip inside gzip: 1,800 bytes that inflate to a 1 MB bomb, then to 1 GiB."""
    return zlib.compress(gzip_bomb(mebibytes), 9, wbits=zlib.MAX_WBITS | 16)


async def _drip(request: web.Request, response: web.Response) -> web.StreamResponse:
    body = bytes(response.body or b"")  # type: ignore[arg-type]
    out = web.StreamResponse(status=response.status, headers={
        hdrs.CONTENT_TYPE: response.headers.get(hdrs.CONTENT_TYPE, "application/json"),
        hdrs.CONTENT_LENGTH: str(len(body))})
    await out.prepare(request)
    try:
        for i in range(len(body)):
            await out.write(body[i:i + 1])
            await asyncio.sleep(DRIP_INTERVAL)
        await out.write_eof()
    except ConnectionError:  # the client gave up, as it should
        pass
    return out


async def _cut(request: web.Request, response: web.Response) -> web.StreamResponse:
    body = bytes(response.body or b"")  # type: ignore[arg-type]
    out = web.StreamResponse(status=response.status, headers={
        hdrs.CONTENT_TYPE: "application/json", hdrs.CONTENT_LENGTH: str(2 * len(body) + 2)})
    await out.prepare(request)
    await out.write(body[: len(body) // 2 + 1])
    assert request.transport is not None
    request.transport.close()
    return out


def _json_text(text: str, status: int = 200, **headers: str) -> web.Response:
    return web.Response(body=text.encode(), status=status,
                        headers={hdrs.CONTENT_TYPE: "application/json", **headers})


async def _answer(mode: str, request: web.Request, response: web.Response,
                  bomb: int = 1024) -> web.StreamResponse:
    """The answer the `mode` way; a bomb inflates to `bomb` MiB."""
    if mode == "drip":
        return await _drip(request, response)
    if mode == "stall":
        await request.app[STOPPING].wait()  # until the server shuts down
    if mode == "inflate":
        return web.Response(body=gzip_bomb(bomb), status=200, headers={
            hdrs.CONTENT_TYPE: "application/json", hdrs.CONTENT_ENCODING: "gzip"})
    if mode == "inflate_nested":
        return web.Response(body=nested_bomb(bomb), status=200, headers={
            hdrs.CONTENT_TYPE: "application/json", hdrs.CONTENT_ENCODING: "gzip, gzip"})
    if mode == "flood":
        flooded = web.Response(body=response.body, status=response.status,
                               content_type="application/json")
        for i in range(10_000):
            flooded.headers.add(f"X-Flood-{i}", "x")
        return flooded
    if mode == "cut":
        return await _cut(request, response)
    if mode == "deep":
        return _json_text("[" * 100_000 + "]" * 100_000)
    if mode == "huge":
        filler = json.dumps({"id": "x", "name": "y" * 1000})
        return _json_text('{"total": 1, "page": 1, "results": ['
                          + ",".join([filler] * 20_000) + "]}")
    if mode == "crowded":
        return _json_text('{"total": 1, "page": 1, "results": [' + ",".join(["{}"] * 1_700_000)
                          + "]}")
    return response


def hostile(mode: str, paths: Sequence[str] = ("/accounts",)) -> Middleware:
    """The middleware that answers requests to `paths` the `mode` way (see the docstring)."""
    if mode not in MODES:
        raise ValueError(f"unknown hostile mode {mode!r}; known: {', '.join(MODES)}")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if mode == "echo":
            return await _echo(request, handler)
        response = await handler(request)
        if request.path not in paths or not isinstance(response, web.Response):
            return response
        return await _answer(mode, request, response)

    return middleware


async def _echo(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors that repeat the password sent, in their message, as a careless server's do."""
    sent: Any = None
    if request.method == "POST":
        try:
            sent = json.loads(await request.read())
        except ValueError:
            sent = None
    response = await handler(request)
    if response.status < 400 or not isinstance(sent, dict) or "password" not in sent:
        return response
    return web.json_response({"error": "Unauthorized",
                              "message": f"Invalid password {sent['password']!r}"},
                             status=response.status)


LIST_PAGE = b'{"total": 1, "page": 1, "results": [{"id": "a1", "name": "n"}]}'
MENAGERIE_BOMB = 64  # MiB: four times the suite's cap, and quick to build


@web.middleware
async def menagerie(request: web.Request, handler: Handler) -> web.StreamResponse:
    """`/hostile/MODE` answers a list page the MODE way; any other path goes to the app."""
    mode = request.path.removeprefix("/hostile/")
    if not request.path.startswith("/hostile/") or mode not in MODES or mode == "echo":
        return await handler(request)
    return await _answer(mode, request, web.Response(body=LIST_PAGE,
                                                     content_type="application/json"),
                         bomb=MENAGERIE_BOMB)


def with_menagerie(app: web.Application) -> web.Application:
    """`app` with every hostile mode at its own path (see `menagerie`)."""
    app.middlewares.insert(0, menagerie)
    return _stoppable(app)


def with_hostile(app: web.Application, mode: str, paths: Sequence[str] = ("/accounts",)
                 ) -> web.Application:
    """`app` behind the hostile middleware (before the app starts, while it still takes one)."""
    app.middlewares.insert(0, hostile(mode, paths))
    return _stoppable(app)


def _stoppable(app: web.Application) -> web.Application:
    """A stalled answer ends when the server shuts down, so that the server can stop."""

    async def started(app: web.Application) -> None:
        app[STOPPING] = asyncio.Event()

    async def stopping(app: web.Application) -> None:
        app[STOPPING].set()

    app.on_startup.append(started)
    app.on_shutdown.append(stopping)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hostile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--paths", default="/accounts,/users",
                        help="comma-separated paths answered the hostile way (default: the lists;"
                             " give /authentication/login too to hit the preflight)")
    args = parser.parse_args(argv)
    from reference_server.app import create_app
    from reference_server.config import Settings

    with tempfile.TemporaryDirectory(prefix=f"dpaas-hostile-{args.mode}-") as data_dir:
        settings = Settings(data_dir=Path(data_dir), port=args.port, demo=True)
        app = with_hostile(create_app(settings), args.mode, args.paths.split(","))
        print(f"serving the reference server behind '{args.mode}' at "
              f"http://127.0.0.1:{args.port} (hostile on {args.paths}); Ctrl-C stops it",
              flush=True)
        web.run_app(app, host="127.0.0.1", port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
