"""The loopback floor: an ordinary aiohttp handler, in its own process, answering a constant
JSON list page of 20 accounts.

It has none of the reference server's work (no authentication, no store, no access log, no
security headers), so what it costs is what any aiohttp server and the loopback cost; the
benchmark reads each of the reference server's figures as a multiple of it. Its body is encoded
once, at start: the floor is the HTTP layer alone.

Beside it, two *bare* writes: what a create and a refresh cost at the least in aiohttp, with
the work no implementation can leave out and nothing else. A bare create reads the JSON body,
writes a 300-byte record over the zeros of a file grown ahead (as the journal is) and
fdatasyncs it, then answers the account. A bare refresh does the same with the refresh token,
then signs an RS256 access token with PyJWT (a 2048-bit key made at start) and answers the
token pair. No validation, no lookup, no store: the difference between a bare row and the
reference server's row of the same operation is the reference server's own work.

    python -m tests.bench.floor PORT [RECORDS_FILE]
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

ITEMS = 20
RECORD_BYTES = 300
#: The records file's size, zero-filled ahead; the records go round in it.
RECORDS_FILE_BYTES = 1 << 20
ACCESS_TOKEN_TTL = 900


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


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Records:
    """Records of `RECORD_BYTES` written over the zeros of a file grown ahead (as the journal
    is), each fdatasynced. Also the benchmark's own disk row (`per_request.py`)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(self.fd, bytes(RECORDS_FILE_BYTES))
        os.fsync(self.fd)
        self.at = 0

    def write_durably(self, document: object) -> None:
        """`document`'s JSON, cut or padded to one record, written and fdatasynced."""
        record = json.dumps(document).encode()[: RECORD_BYTES - 1].ljust(RECORD_BYTES - 1)
        os.pwrite(self.fd, record + b"\n", self.at)
        os.fdatasync(self.fd)
        self.at = (self.at + RECORD_BYTES) % (RECORDS_FILE_BYTES - RECORD_BYTES)

    def close(self) -> None:
        os.close(self.fd)


def make_app(records_file: Path | None = None) -> web.Application:
    body = page()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    if records_file is not None:
        add_bare_writes(app, Records(records_file))
    app.router.add_get("/{tail:.*}", handler)
    return app


def add_bare_writes(app: web.Application, records: Records) -> None:
    """`POST /accounts` and `POST /authentication/refresh`, bare (see the module docstring)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    organization = str(uuid.uuid4())
    user = str(uuid.uuid4())

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        now = stamp(time.time())
        account = {"id": str(uuid.uuid4()), "name": body["name"], "organization_id": organization,
                   "is_default": False, "is_active": True, "metadata": body.get("metadata", {}),
                   "created_at": now, "updated_at": now}
        records.write_durably(account)
        return web.json_response(account, status=201)

    async def refresh(request: web.Request) -> web.Response:
        body = await request.json()
        successor = base64.urlsafe_b64encode(secrets.token_bytes(57)).decode()
        records.write_durably({"spent": body["refresh_token"][:64], "next": successor[:64]})
        now = int(time.time())
        claims = {"iss": "bare", "sub": user, "org": organization, "iat": now,
                  "exp": now + ACCESS_TOKEN_TTL, "jti": str(uuid.uuid4())}
        access = jwt.encode(claims, key, algorithm="RS256", headers={"typ": "JWT", "kid": "k"})
        return web.json_response({"access_token": access, "refresh_token": successor,
                                  "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL})

    app.router.add_post("/accounts", create)
    app.router.add_post("/authentication/refresh", refresh)


if __name__ == "__main__":
    records_file = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    web.run_app(make_app(records_file), host="127.0.0.1", port=int(sys.argv[1]), print=None)
