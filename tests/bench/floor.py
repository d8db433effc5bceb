"""The loopback floor: an ordinary aiohttp handler, in its own process, answering a constant
JSON list page of 20 accounts.

It has none of the reference server's work (no authentication, no store, no access log, no
security headers), so what it costs is what any aiohttp server and the loopback cost; the
benchmark reads each of the reference server's figures as a multiple of it. Its body is encoded
once, at start: the floor is the HTTP layer alone.

    python -m tests.bench.floor PORT
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import UTC, datetime

from aiohttp import web

ITEMS = 20


def page() -> bytes:
    """A first page as `GET /accounts` answers it: 20 accounts of the demo's shape."""
    org = str(uuid.uuid4())
    start = time.time() - 3600
    results = []
    for i in range(ITEMS):
        stamp = datetime.fromtimestamp(start + i, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        results.append({
            "id": str(uuid.uuid4()), "name": f"Seeded {i:06d}", "organization_id": org,
            "is_default": i == 0, "is_active": True, "metadata": {"seq": i},
            "created_at": stamp, "updated_at": stamp,
        })
    return json.dumps({"total": 100, "page": 1, "results": results}).encode()


def make_app() -> web.Application:
    body = page()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=int(sys.argv[1]), print=None)
