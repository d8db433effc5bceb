"""The SERVICE class in the OpenAPI document: service accounts, their keys, and the HMAC scheme.

`openapi.py` builds the document and merges these paths, parameters, schemas and the `hmacAuth`
security scheme into it. OpenAPI has no HMAC scheme type: `hmacAuth` is an API key in the
`Authorization` header, and its description says how the value is made (the docs page signs
each request in the browser when a key is entered in Authorize: `docs/init.js`).
"""

from __future__ import annotations

import copy
from typing import Any

from .routes.accounts import MAX_ID_LENGTH, MAX_NAME_LENGTH
from .routes.service_accounts import MAX_ALLOWLIST, MAX_DESCRIPTION_LENGTH
from .store import KEY_ORDER_FIELDS, SERVICE_ACCOUNT_ORDER_FIELDS

JSON = "application/json"
Schema = dict[str, Any]


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


HMAC_SCHEME: Schema = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": (
        "A service account's key signs every request (SERVICE class): `Authorization: HMAC "
        "ACCESS_KEY:SIGNATURE` with the headers `x-date` (`YYYY-MM-DDTHH:MM:SSZ`, UTC, within "
        "300 s of the server's clock), `x-nonce` (a new UUID per request; each works once) and "
        "`x-content-sha256` (lowercase hex SHA-256 of the exact body). SIGNATURE is the padded "
        "standard Base64 of HMAC-SHA256, keyed with the secret key, of six lines joined by "
        "`\\n`: the method, the path and the query as sent (no `?`), x-date, x-nonce and "
        "x-content-sha256. On this page, enter `ACCESS_KEY:SECRET_KEY` in Authorize and the "
        "browser signs each request (the secret never leaves the page)."
    ),
}

EXAMPLE_SERVICE_ACCOUNT = {
    "id": "sa-123",
    "name": "Billing exporter",
    "description": "Exports invoices nightly",
    "account_id": "acc-123",
    "organization_id": "org-456",
    "is_active": True,
    "metadata": {},
    "created_at": "2025-09-30T10:00:00Z",
    "updated_at": "2025-09-30T10:00:00Z",
    "last_used_at": None,
}
EXAMPLE_KEY = {
    "id": "key-789",
    "access_key": "sa_f7b7e4312ee41da96f8ee44eebc86d16",
    "description": "nightly export",
    "service_account_id": "sa-123",
    "expires_at": None,
    "is_active": True,
    "created_at": "2025-09-30T10:00:00Z",
    "last_used_at": None,
}


#: the accounts' metadata bounds (the same validation on the server)
METADATA: Schema = {"type": "object", "additionalProperties": ref("schemas", "MetadataValue")}


def order_by(fields: list[str]) -> Schema:
    return {"name": "order_by", "in": "query",
            "description": "Sort field, ascending; prefix `-` to descend (LIST-4).",
            "schema": {"type": "string", "enum": [v for f in fields for v in (f, f"-{f}")],
                       "default": "-created_at"}}


def parameters() -> dict[str, Schema]:
    return {
        "serviceAccountId": {
            "name": "id", "in": "path", "required": True,
            "description": "A service account of the caller's organization; any other id gets "
                           "the same 404 (SA-6, KEY-9).",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}},
        "keyId": {
            "name": "key_id", "in": "path", "required": True,
            "description": "A key of that service account (its `id`, not its access key).",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}},
        "serviceAccountFilter": {
            "name": "account_id", "in": "query",
            "description": "Only the service accounts of this account (SA-2).",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}},
        "includeInactive": {
            "name": "include_inactive", "in": "query",
            "description": "`true`: deactivated service accounts too (SA-7).",
            "schema": {"type": "boolean", "default": False}},
        "serviceAccountOrderBy": order_by(sorted(SERVICE_ACCOUNT_ORDER_FIELDS)),
        "keyOrderBy": order_by(sorted(KEY_ORDER_FIELDS)),
    }


def _list_of(item: str) -> Schema:
    return {"allOf": [ref("schemas", "ListPage"),
                      {"type": "object",
                       "properties": {"results": {"type": "array",
                                                  "items": ref("schemas", item)}}}]}


def schemas() -> dict[str, Schema]:
    text = {"type": ["string", "null"], "maxLength": MAX_DESCRIPTION_LENGTH}
    return {
        "ServiceAccountList": _list_of("ServiceAccount"),
        "KeyList": _list_of("Key"),
        "ServiceAccountCreate": {
            "type": "object", "required": ["name", "account_id"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
                "account_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH,
                               "description": "A live account of the caller's organization "
                                              "(else 422 naming it: SA-4)."},
                "description": text,
                "metadata": METADATA}},
        "ServiceAccountPatch": {
            "type": "object", "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1,
                                    "maxLength": MAX_NAME_LENGTH},
                           "description": text, "metadata": METADATA,
                           "is_active": {"type": "boolean",
                                         "description": "`false` deactivates it: its keys stop "
                                                        "at once (SA-7)."}}},
        "KeyIssue": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "description": text,
                "expires_at": {"type": ["string", "null"], "format": "date-time",
                               "description": "In the future (else 422: KEY-6); null or "
                                              "absent: no expiry."},
                "ip_allowlist": {"type": "array", "maxItems": MAX_ALLOWLIST,
                                 "items": {"type": "string"},
                                 "description": "CIDR blocks the key may be used from (KEY-7); "
                                                "none: any address."}}},
    }


def issued_key(key: Schema) -> Schema:
    """The key list's item (which never holds a secret), plus `secret_key`: the answer that
    issues a key is the one place its secret shows (KEY-1, KEY-2)."""
    out = copy.deepcopy(key)
    out.pop("not", None)
    out["title"] = "API key as issued, with its secret (shown once)"
    out["required"] = [*out["required"], "secret_key"]
    out["properties"]["secret_key"] = {
        "type": "string", "description": "Shown in this answer only, never again (KEY-2)."}
    return out


def _errors(*codes: str) -> dict[str, Schema]:
    names = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
             "413": "PayloadTooLarge", "415": "UnsupportedMediaType", "422": "ValidationError"}
    return {c: ref("responses", names[c]) for c in codes}


def _ok(description: str, schema: str, example: Any, status: str = "200") -> dict[str, Schema]:
    return {status: {"description": description,
                     "content": {JSON: {"schema": ref("schemas", schema), "example": example}}}}


def paths() -> dict[str, Schema]:
    one = ref("parameters", "serviceAccountId")
    body = {"required": True, "content": {JSON: {"schema": ref("schemas", "ServiceAccountCreate"),
                                                 "example": {"name": "Billing exporter",
                                                             "account_id": "acc-123"}}}}
    tag = ["Service accounts"]
    return {
        "/service-accounts": {
            "get": {
                "operationId": "listServiceAccounts", "summary": "List service accounts",
                "description": "Active ones unless `include_inactive=true` (SA-1, SA-2, SA-7); "
                               "never key material (SA-5).",
                "tags": tag,
                "parameters": [ref("parameters", "page"), ref("parameters", "quantity"),
                               ref("parameters", "serviceAccountOrderBy"),
                               ref("parameters", "serviceAccountFilter"),
                               ref("parameters", "includeInactive")],
                "responses": {**_ok("One page of the organization's service accounts.",
                                    "ServiceAccountList",
                                    {"total": 1, "page": 1,
                                     "results": [EXAMPLE_SERVICE_ACCOUNT]}),
                              **_errors("401", "403", "422")}},
            "post": {
                "operationId": "createServiceAccount", "summary": "Create a service account",
                "description": "Active, never used, for an account of the caller's "
                               "organization (SA-3, SA-4). It has no rights of its own.",
                "tags": tag, "requestBody": body,
                "responses": {**_ok("The new service account.", "ServiceAccount",
                                    EXAMPLE_SERVICE_ACCOUNT, "201"),
                              **_errors("400", "401", "403", "413", "415", "422")}},
        },
        "/service-accounts/{id}": {
            "get": {"operationId": "getServiceAccount", "summary": "Get one service account",
                    "tags": tag, "parameters": [one],
                    "responses": {**_ok("The service account (SA-6).", "ServiceAccount",
                                        EXAMPLE_SERVICE_ACCOUNT),
                                  **_errors("401", "403", "404")}},
            "patch": {"operationId": "updateServiceAccount",
                      "summary": "Update or deactivate a service account",
                      "tags": tag, "parameters": [one],
                      "requestBody": {"required": True, "content": {JSON: {
                          "schema": ref("schemas", "ServiceAccountPatch"),
                          "example": {"is_active": False}}}},
                      "responses": {**_ok("The updated service account.", "ServiceAccount",
                                          {**EXAMPLE_SERVICE_ACCOUNT, "is_active": False}),
                                    **_errors("400", "401", "403", "404", "413", "415",
                                              "422")}},
            "delete": {"operationId": "deleteServiceAccount",
                       "summary": "Delete a service account (its keys stop at once)",
                       "tags": tag, "parameters": [one],
                       "responses": {"204": {"description": "Deleted."},
                                     **_errors("401", "403", "404")}},
        },
        "/service-accounts/{id}/keys": {
            "get": {"operationId": "listKeys", "summary": "List a service account's keys",
                    "description": "Revoked keys stay, inactive; never a secret (KEY-4).",
                    "tags": tag,
                    "parameters": [one, ref("parameters", "page"), ref("parameters", "quantity"),
                                   ref("parameters", "keyOrderBy")],
                    "responses": {**_ok("One page of the keys.", "KeyList",
                                        {"total": 1, "page": 1, "results": [EXAMPLE_KEY]}),
                                  **_errors("401", "403", "404", "422")}},
            "post": {"operationId": "issueKey", "summary": "Issue a key",
                     "description": "The answer holds `secret_key`, shown this once (KEY-1, "
                                    "KEY-2). The key works at once (KEY-3).",
                     "tags": tag, "parameters": [one],
                     "requestBody": {"required": True, "content": {JSON: {
                         "schema": ref("schemas", "KeyIssue"),
                         "example": {"description": "nightly export"}}}},
                     "responses": {**_ok("The new key, with its secret.", "IssuedKey",
                                         {**EXAMPLE_KEY,
                                          "secret_key": "sk_live_2f1a...(shown once)"}, "201"),
                                   **_errors("400", "401", "403", "404", "413", "415",
                                             "422")}},
        },
        "/service-accounts/{id}/keys/{key_id}": {
            "delete": {"operationId": "revokeKey", "summary": "Revoke a key",
                       "description": "The very next request signed with it gets 401 (KEY-5).",
                       "tags": tag, "parameters": [one, ref("parameters", "keyId")],
                       "responses": {"204": {"description": "Revoked."},
                                     **_errors("401", "403", "404")}},
        },
    }
