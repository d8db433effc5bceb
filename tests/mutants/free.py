"""A correct server that makes other choices everywhere the contract leaves them free.

Other id formats, 200 instead of 201 on create, other message texts, extra fields in every object,
and quantity above 100 clamped instead of refused. The suite must pass it: a false failure here is
as serious as a missed fault.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from reference_server.app import Components
from reference_server.storage import Store
from tests.mutants.rewrite import (
    is_list,
    json_body,
    on,
    rebuilt,
    rewrite_json,
    rewrite_request,
    rewrite_response,
    with_query,
)


class PrefixedIds(Store):
    """Account ids like the guide's "acc-123" instead of UUIDs."""

    def new_account_id(self) -> str:
        return f"acc-{secrets.token_hex(5)}"


def extras(body: Any) -> Any:
    """Extra fields at every level, other error wording, and short user ids."""
    if not isinstance(body, dict):
        return body
    if "error" in body:
        out = {**body, "message": "Request refused (variant wording)",
               "request_id": secrets.token_hex(8)}
        if "details" in body:
            out["details"] = {k: ["is not acceptable here"] for k in body["details"]}
        return out
    if "access_token" in body:
        return {**body, "scope": "accounts users"}
    if "results" in body:
        return {**body, "quantity": len(body["results"]),
                "results": [extras(item) for item in body["results"]]}
    out = {**body, "etag": secrets.token_hex(4)}
    if "email" in body:
        out["id"] = f"usr-{str(body['id']).replace('-', '')[:12]}"
        out["display_name"] = str(body["email"]).split("@")[0]
    return out


def created_ok(request: web.Request, response: web.Response) -> web.Response:
    return rebuilt(response, json_body(response), 200)


def over_100(request: web.Request) -> bool:
    value = request.query.get("quantity", "")
    return is_list(request) and value.isdigit() and int(value) > 100


FREE_VARIANTS: dict[str, Components] = {
    "free_choices": Components(
        store=PrefixedIds,
        middlewares=(
            rewrite_request(over_100, lambda r: with_query(r, quantity="100")),
            rewrite_response(lambda r, resp: on("POST", "/accounts")(r) and resp.status == 201,
                             created_ok),
            rewrite_json(lambda _r, _resp: True, extras),
        ),
    ),
}
