"""The profile as an OpenAPI 3.1 document, built from the suite's JSON Schemas.

The suite's schemas (`steps/library/schemas/*.json`) are the one source of truth for every
response body; this module turns them into the document's components and adds what only the
document needs:
paths, parameters, request bodies, the bearer scheme, the guide's examples and the links that
chain login -> list/create -> refresh. The built document is committed as `openapi.json` beside
this module (implementers can read and diff it; `routes/openapi.py` serves it as it is);
`tests/test_openapi.py` fails when the committed file and the schemas drift apart.

Regenerate after changing a schema or this module:  python -m reference_server.openapi
"""

from __future__ import annotations

import copy
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from . import openapi_service
from .pagination import DEFAULT_QUANTITY, MAX_QUANTITY
from .passwords import MAX_PASSWORD_LENGTH
from .routes.accounts import MAX_ID_LENGTH, MAX_METADATA_BYTES, MAX_NAME_LENGTH
from .routes.auth import MAX_EMAIL_LENGTH, MAX_SLUG_LENGTH
from .store import ACCOUNT_ORDER_FIELDS, USER_ORDER_FIELDS
from .validation import MAX_DEPTH, MAX_SAFE_INTEGER

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")

#: Suite schema file (steps/library/schemas/NAME.json) -> component name in the document.
SUITE_SCHEMAS = {
    "token": "Tokens",
    "error": "Error",
    "list": "ListPage",
    "account": "Account",
    "user": "User",
    "user-recommended": "UserRecommended",
    "jwks": "JwkSet",
    "service-account": "ServiceAccount",
    "key": "Key",
}

JSON = "application/json"
Schema = dict[str, Any]

# The reference server's own bounds, where the profile leaves them free (ERR-5 only asks that a
# value a server cannot serve back is refused with 422), come from the modules that enforce them.
#: "Contains a character that is not whitespace", with whitespace as Python's `str.strip()` sees
#: it (what the server strips), spelled out because `\s` differs between regex dialects
#: (ECMA-262 has U+FEFF and lacks U+001C..U+001F and U+0085).
NOT_BLANK = "[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

FREE_NOTE = (
    " This bound is the reference server's choice: the profile leaves it free, so another "
    "conformant server may accept more."
)


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


# --------------------------------------------------------------------------- suite schemas


def _suite_schema(name: str) -> Schema:
    path = resources.files("dpaas_conformance.library") / "schemas" / f"{name}.json"
    text = path.read_text(encoding="utf-8")
    return json.loads(text)


def _rewrite_refs(node: Any, defs: dict[str, str]) -> Any:
    """Point a schema's local `#/$defs/X` references at the shared component instead."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = ref("schemas", defs[value.removeprefix("#/$defs/")])["$ref"]
            else:
                out[key] = _rewrite_refs(value, defs)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, defs) for item in node]
    return node


def suite_components() -> dict[str, Schema]:
    """Every suite schema as a component; their `$defs` become shared components.

    A `$defs` entry of one name must be identical in every file that has it, so the document
    holds it once (a difference would make the suite and the document disagree).
    """
    components: dict[str, Schema] = {}
    for file_name, component in SUITE_SCHEMAS.items():
        schema = _suite_schema(file_name)
        schema.pop("$schema", None)
        defs: dict[str, Schema] = schema.pop("$defs", {})
        names = {name: name for name in defs}
        for name, definition in defs.items():
            if name in components and components[name] != definition:
                raise ValueError(f"$defs/{name} differs between suite schemas ({file_name}.json)")
            components[name] = definition
        components[component] = _rewrite_refs(schema, names)
    return components


# --------------------------------------------------------------------------- document parts


def _error_variant(code: str, summary: str) -> Schema:
    """The suite's error body with its `error` code fixed (the guide's MUST codes)."""
    return {
        "description": summary,
        "allOf": [ref("schemas", "Error"), {"properties": {"error": {"const": code}}}],
    }


def _list_of(item: str) -> Schema:
    return {
        "description": f"One page of {item}s: `total` counts every match, whatever the page.",
        "allOf": [
            ref("schemas", "ListPage"),
            {"properties": {"results": {"type": "array", "items": ref("schemas", item)}}},
        ],
    }


def _user_with_recommended(components: dict[str, Schema]) -> Schema:
    """The MUST user schema, plus the SHOULD fields' types as optional properties."""
    user = copy.deepcopy(components["User"])
    recommended = components["UserRecommended"]
    for name, prop in recommended["properties"].items():
        user["properties"].setdefault(
            name, {**prop, "description": "SHOULD (API reference): see UserRecommended"}
        )
    return user


def _text(max_length: int) -> Schema:
    """A string that is not blank (surrounding whitespace is removed) and not too long."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NOT_BLANK}


def _request_schemas() -> dict[str, Schema]:
    return {
        "LoginRequest": {
            "title": "Login request",
            "type": "object",
            "required": ["email", "password", "organization_slug"],
            "description": (
                "Every failure (unknown organization, unknown email, wrong password) gets the "
                "same 401. The lengths are the reference server's." + FREE_NOTE
            ),
            "properties": {
                "email": _text(MAX_EMAIL_LENGTH),
                "password": {
                    "type": "string",
                    "format": "password",
                    "maxLength": MAX_PASSWORD_LENGTH,
                },
                "organization_slug": _text(MAX_SLUG_LENGTH),
            },
        },
        "RefreshRequest": {
            "title": "Refresh request",
            "type": "object",
            "required": ["refresh_token"],
            "properties": {"refresh_token": {"type": "string"}},
        },
        "AccountCreate": {
            "title": "Account creation request",
            "description": (
                "`id`, `organization_id`, `created_at` and `updated_at` are the server's to set "
                "(ACC-4): a client may not choose them. The reference server refuses them, and "
                "any other unknown field, with 422." + FREE_NOTE
            ),
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_NAME_LENGTH,
                    "pattern": NOT_BLANK,
                    "description": (
                        "Not blank: at least one character that is not whitespace; surrounding "
                        "whitespace is removed." + FREE_NOTE
                    ),
                },
                "is_default": {
                    "type": "boolean",
                    "default": False,
                    "description": "A new default account demotes the previous one.",
                },
                "metadata": {
                    "type": "object",
                    "additionalProperties": ref("schemas", "MetadataValue"),
                    "description": (
                        f"Any JSON object of at most {MAX_METADATA_BYTES} bytes once serialized, "
                        f"nested at most {MAX_DEPTH} levels deep, whose numbers are within "
                        f"±{MAX_SAFE_INTEGER} (so every client reads them exactly, RFC 7493) and "
                        "whose text is valid Unicode." + FREE_NOTE
                    ),
                },
            },
        },
        "AccountReplace": {
            "title": "Account replacement request (PUT)",
            "description": (
                "The whole account: a field left out returns to its create default (`metadata` "
                "`{}`, `is_default` false; ACC-10). So a PUT without `is_default` on the default "
                "account unsets it, which is refused with 409 (ACC-20). `id`, "
                "`organization_id`, `created_at`, `updated_at` and `deleted_at` are the "
                "server's (ACC-12): the reference server refuses them, and any other unknown "
                "field, with 422." + FREE_NOTE
            ),
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": "SAME_AS_CREATE",
        },
        "AccountPatch": {
            "title": "Account update request (PATCH)",
            "description": (
                "Only the top-level fields sent change (ACC-11); `null` is no value for any of "
                "them. Sent `metadata` replaces the stored one on the reference server (the "
                "profile leaves replace or merge free). `is_default: false` on the default "
                "account is refused with 409 (ACC-20)."
            ),
            "type": "object",
            "additionalProperties": False,
            "properties": "SAME_AS_CREATE",
        },
        "MetadataValue": {
            "title": "A value inside an account's metadata",
            "anyOf": [
                {"type": ["string", "boolean", "null"]},
                {"type": "number", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER},
                {"type": "array", "items": ref("schemas", "MetadataValue")},
                {"type": "object", "additionalProperties": ref("schemas", "MetadataValue")},
            ],
        },
    }


def _with_create_properties(schemas: dict[str, Schema]) -> None:
    """PUT and PATCH take the fields POST takes, with the same bounds."""
    for name in ("AccountReplace", "AccountPatch"):
        schemas[name]["properties"] = copy.deepcopy(schemas["AccountCreate"]["properties"])
    schemas["AccountPatch"]["properties"]["is_default"].pop("default")


def _parameters() -> dict[str, Schema]:
    def order_by(fields: list[str]) -> Schema:
        values = [v for f in fields for v in (f, f"-{f}")]
        return {
            "name": "order_by",
            "in": "query",
            "description": (
                "Sort field, ascending; prefix `-` to descend (LIST-4). Items with equal keys "
                "keep one fixed order for a whole walk."
            ),
            "schema": {"type": "string", "enum": values, "default": "-created_at"},
        }

    return {
        "page": {
            "name": "page",
            "in": "query",
            "description": "1-based page number (LIST-2); a page past the end is empty (LIST-6).",
            "schema": {"type": "integer", "minimum": 1, "default": 1},
        },
        "quantity": {
            "name": "quantity",
            "in": "query",
            "description": f"Items per page, at most {MAX_QUANTITY} (LIST-2).",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_QUANTITY,
                "default": DEFAULT_QUANTITY,
            },
        },
        "accountOrderBy": order_by(sorted(ACCOUNT_ORDER_FIELDS)),
        "accountId": {
            "name": "id",
            "in": "path",
            "required": True,
            "description": (
                "An account of the caller's organization. Any other id (one that never existed, "
                "another organization's, a deleted one) gets the same 404 (ACC-8, ACC-9)."
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        },
        "userId": {
            "name": "id",
            "in": "path",
            "required": True,
            "description": "A user of the caller's organization; any other id gets 404.",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        },
        "includeDeleted": {
            "name": "include_deleted",
            "in": "query",
            "description": (
                "`true`: deleted accounts too, with `deleted_at` (ACC-16), for administrators. "
                "Anyone else gets the live accounts only (ACC-17; this server filters, a 403 "
                "is as conformant)."
            ),
            "schema": {"type": "boolean", "default": False},
        },
        "accountFilter": {
            "name": "account_id",
            "in": "query",
            "description": (
                "Only the members of this account (USER-4). An id that is no live account of "
                "the caller's organization lists nobody (USER-5)."
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        },
        "userOrderBy": order_by(sorted(USER_ORDER_FIELDS)),
    }


def _error_response(description: str, schema: Schema, example: dict[str, Any]) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema, "example": example}}}


def _responses() -> dict[str, Schema]:
    no_store = {
        "description": "`no-store`: a response that carries tokens is never cached (AUTH-6).",
        "schema": {"type": "string"},
    }
    return {
        "BadRequest": _error_response(
            "The body is not JSON, or not a JSON object (ERR-2).",
            ref("schemas", "Error"),
            {"error": "BadRequest", "message": "Request body is not valid JSON"},
        ),
        "Unauthorized": {
            **_error_response(
                "Missing, invalid or expired access token (AUTH-15).",
                ref("schemas", "UnauthorizedError"),
                {"error": "Unauthorized", "message": "Invalid or expired token"},
            ),
            "headers": {
                "WWW-Authenticate": {
                    "description": '`Bearer`, with `error="invalid_token"` for a bad token '
                    "(AUTH-16, SHOULD).",
                    "schema": {"type": "string"},
                }
            },
        },
        "InvalidCredentials": {
            **_error_response(
                "Wrong password, unknown email or unknown organization: one answer for all "
                "three, and no token (AUTH-5).",
                ref("schemas", "UnauthorizedError"),
                {"error": "Unauthorized", "message": "Invalid credentials"},
            ),
            "headers": {"Cache-Control": no_store},
        },
        "InvalidRefreshToken": {
            **_error_response(
                "Unknown, malformed, expired or already used refresh token: refused, and no "
                "token (AUTH-9, AUTH-11).",
                ref("schemas", "UnauthorizedError"),
                {"error": "Unauthorized", "message": "Invalid or expired refresh token"},
            ),
            "headers": {"Cache-Control": no_store},
        },
        "Forbidden": _error_response(
            "Authenticated, but not permitted (ACC-5).",
            ref("schemas", "ForbiddenError"),
            {"error": "Forbidden", "message": "Insufficient permissions"},
        ),
        "ValidationError": _error_response(
            "Invalid input; `details` names every bad field or parameter (AUTH-4, ACC-3, LIST-5).",
            ref("schemas", "ValidationErrorBody"),
            {
                "error": "ValidationError",
                "message": "Invalid input",
                "details": {"name": ["This field is required"]},
            },
        ),
        "NotFound": _error_response(
            "No such resource for the caller's organization: one that never existed, another "
            "organization's and a deleted one get this same answer (ACC-8, ACC-9, ERR-7).",
            ref("schemas", "Error"),
            {"error": "NotFound", "message": "Account not found"},
        ),
        "Conflict": _error_response(
            "The default account cannot be unset or deleted: make another account the "
            "default first (ACC-20, ACC-21, ERR-6). Nothing changed.",
            ref("schemas", "Error"),
            {"error": "Conflict", "message": "This is the organization's default account: "
             "make another account the default first"},
        ),
        "PayloadTooLarge": _error_response(
            "The request body is over the server's cap (64 KiB on the reference server).",
            ref("schemas", "Error"),
            {"error": "PayloadTooLarge", "message": "Request body too large"},
        ),
        "UnsupportedMediaType": _error_response(
            "The body is not sent as `application/json`.",
            ref("schemas", "Error"),
            {"error": "UnsupportedMediaType", "message": "Content-Type must be application/json"},
        ),
        "TooManyRequests": {
            **_error_response(
                "Too many failed logins for this account: wait `Retry-After` seconds (AUTH-7).",
                ref("schemas", "Error"),
                {
                    "error": "TooManyRequests",
                    "message": "Too many failed attempts, try again later",
                },
            ),
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 1},
                },
                "Cache-Control": no_store,
            },
        },
    }


# Examples from the guide ("Your First API Call"), with the demo server's email address.
GUIDE_LOGIN = {
    "email": "user@example.com",
    "password": "your-password",
    "organization_slug": "myorg",
}
GUIDE_TOKENS = {
    "access_token": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLWlkIiwi...",
    "refresh_token": "def502004a8c...",
    "token_type": "Bearer",
    "expires_in": 900,
}
GUIDE_REFRESHED = {**GUIDE_TOKENS, "refresh_token": "abc123def456..."}
GUIDE_ACCOUNTS = {
    "total": 2,
    "page": 1,
    "results": [
        {
            "id": "acc-123",
            "name": "Production",
            "organization_id": "org-456",
            "is_default": False,
            "is_active": True,
            "created_at": "2025-09-30T10:00:00Z",
            "updated_at": "2025-09-30T10:00:00Z",
        },
        {
            "id": "acc-789",
            "name": "Development",
            "organization_id": "org-456",
            "is_default": True,
            "is_active": True,
            "created_at": "2025-09-30T09:00:00Z",
            "updated_at": "2025-09-30T09:00:00Z",
        },
    ],
}
GUIDE_CREATE = {"name": "Staging", "is_default": False}
GUIDE_CREATED = {
    "id": "acc-new123",
    "name": "Staging",
    "organization_id": "org-456",
    "is_default": False,
    "is_active": True,
    "created_at": "2025-09-30T11:00:00Z",
    "updated_at": "2025-09-30T11:00:00Z",
}
# The guide shows no user list; this one follows its conventions and the API reference's fields.
EXAMPLE_USERS = {
    "total": 1,
    "page": 1,
    "results": [
        {
            "id": "usr-321",
            "email": "user@example.com",
            "organization_id": "org-456",
            "is_active": True,
            "is_verified": True,
            "mfa_enabled": False,
            "metadata": {},
            "last_login_at": "2025-09-30T11:00:00Z",
            "created_at": "2025-09-30T09:00:00Z",
            "updated_at": "2025-09-30T09:00:00Z",
        }
    ],
}


def _links() -> dict[str, Schema]:
    """What a client can do with a token response: use the access token, rotate the refresh token.

    The access token goes into the `Authorization` header, which OpenAPI models as the security
    scheme rather than a parameter; the links name it as `header.Authorization` all the same,
    so tools that follow links (Schemathesis's stateful phase) send the token they just got.
    """
    bearer = {"header.Authorization": "Bearer {$response.body#/access_token}"}
    return {
        "ListAccounts": {
            "operationId": "listAccounts",
            "description": "List accounts with the access token just issued (AUTH-10).",
            "parameters": bearer,
        },
        "CreateAccount": {
            "operationId": "createAccount",
            "description": "Create an account with the access token just issued.",
            "parameters": bearer,
        },
        "ListUsers": {
            "operationId": "listUsers",
            "description": "List users with the access token just issued.",
            "parameters": bearer,
        },
        "Refresh": {
            "operationId": "refresh",
            "description": (
                "Rotate the refresh token just issued: the answer is a new pair, and this token "
                "is then invalid (AUTH-8, AUTH-9)."
            ),
            "requestBody": {"refresh_token": "$response.body#/refresh_token"},
        },
    }


def _account_links() -> dict[str, Schema]:
    """What a client can do with an account just created or read: read it, change it, delete
    it (Schemathesis's stateful phase follows these: create -> get -> patch -> delete)."""
    account = {"path.id": "$response.body#/id"}
    return {
        "GetAccount": {"operationId": "getAccount", "parameters": account,
                       "description": "Read the account by its id (ACC-7)."},
        "ReplaceAccount": {"operationId": "replaceAccount", "parameters": account,
                           "description": "Replace the account (ACC-10)."},
        "UpdateAccount": {"operationId": "updateAccount", "parameters": account,
                          "description": "Change some of the account's fields (ACC-11)."},
        "DeleteAccount": {"operationId": "deleteAccount", "parameters": account,
                          "description": "Delete the account (ACC-14)."},
        "ListAccountMembers": {"operationId": "listUsers",
                               "parameters": {"query.account_id": "$response.body#/id"},
                               "description": "List the account's members (USER-4)."},
    }


def _account_response(description: str, example: Any, links: tuple[str, ...]) -> Schema:
    return {
        "description": description,
        "content": {JSON: {"schema": ref("schemas", "Account"), "example": example}},
        "links": {name: ref("links", name) for name in links},
    }


def _token_response(description: str, example: dict[str, Any]) -> Schema:
    return {
        "description": description,
        "headers": {
            "Cache-Control": {
                "description": "`no-store` (AUTH-6, SHOULD).",
                "schema": {"type": "string"},
            }
        },
        "content": {JSON: {"schema": ref("schemas", "Tokens"), "example": example}},
        "links": {name: ref("links", name) for name in _links()},
    }


def _list_operation(
    operation_id: str, summary: str, description: str, tag: str, order: str, item: str,
    example: Any, extra: tuple[str, ...] = (),
) -> Schema:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": [tag],
        "parameters": [
            ref("parameters", "page"),
            ref("parameters", "quantity"),
            ref("parameters", order),
            *(ref("parameters", name) for name in extra),
        ],
        "responses": {
            "200": {
                "description": f"One page of the caller's organization's {item}s.",
                "content": {JSON: {"schema": ref("schemas", f"{item}List"), "example": example}},
            },
            "401": ref("responses", "Unauthorized"),
            "403": ref("responses", "Forbidden"),
            "422": ref("responses", "ValidationError"),
        },
    }


def _paths() -> dict[str, Schema]:
    body_errors = {
        "400": ref("responses", "BadRequest"),
        "413": ref("responses", "PayloadTooLarge"),
        "415": ref("responses", "UnsupportedMediaType"),
        "422": ref("responses", "ValidationError"),
    }
    created = _account_response(
        "The new account, active, in the caller's organization (ACC-2).", GUIDE_CREATED,
        tuple(_account_links()))
    one = ref("parameters", "accountId")
    errors_of_one = {
        "401": ref("responses", "Unauthorized"),
        "403": ref("responses", "Forbidden"),
        "404": ref("responses", "NotFound"),
    }
    return {
        "/authentication/login": {
            "post": {
                "operationId": "login",
                "summary": "Log in: get an access token and a refresh token",
                "description": (
                    "The access token is an RS256 JWT that expires in 15 minutes (AUTH-1, "
                    "AUTH-2). Send it as `Authorization: Bearer ACCESS_TOKEN`; use the refresh "
                    "token to get a new pair without logging in again."
                ),
                "tags": ["Authentication"],
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("schemas", "LoginRequest"), "example": GUIDE_LOGIN}
                    },
                },
                "responses": {
                    "200": _token_response("Logged in (AUTH-1).", GUIDE_TOKENS),
                    **body_errors,
                    "401": ref("responses", "InvalidCredentials"),
                    "429": ref("responses", "TooManyRequests"),
                },
            }
        },
        "/authentication/refresh": {
            "post": {
                "operationId": "refresh",
                "summary": "Rotate a refresh token: get a new pair",
                "description": (
                    "Refresh tokens are rotated on every use: the token sent is invalid from "
                    "then on (AUTH-8, AUTH-9). Reusing a rotated token SHOULD revoke the whole "
                    "family (AUTH-12)."
                ),
                "tags": ["Authentication"],
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": ref("schemas", "RefreshRequest"),
                            "example": {"refresh_token": GUIDE_TOKENS["refresh_token"]},
                        }
                    },
                },
                "responses": {
                    "200": _token_response("A new pair (AUTH-8).", GUIDE_REFRESHED),
                    **body_errors,
                    "401": ref("responses", "InvalidRefreshToken"),
                },
            }
        },
        "/accounts": {
            "get": _list_operation(
                "listAccounts",
                "List the organization's accounts",
                "Newest first unless `order_by` says otherwise (ACC-1, LIST-1 to LIST-6). "
                "Deleted accounts are left out unless an administrator asks with "
                "`include_deleted=true` (ACC-16, ACC-17).",
                "Accounts",
                "accountOrderBy",
                "Account",
                GUIDE_ACCOUNTS,
                extra=("includeDeleted",),
            ),
            "post": {
                "operationId": "createAccount",
                "summary": "Create an account",
                "description": (
                    "Needs permission to create accounts: a user without it gets 403 (ACC-5). "
                    "The profile asks for 201 (SHOULD); 200 is conformant too (ACC-2)."
                ),
                "tags": ["Accounts"],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("schemas", "AccountCreate"), "example": GUIDE_CREATE}
                    },
                },
                "responses": {
                    "201": created,
                    "200": {**created, "description": "Also conformant: see 201 (ACC-2)."},
                    **body_errors,
                    "401": ref("responses", "Unauthorized"),
                    "403": ref("responses", "Forbidden"),
                },
            },
        },
        "/accounts/{id}": {
            "get": {
                "operationId": "getAccount",
                "summary": "Get one account",
                "description": "The account as the list shows it (ACC-7). Needs permission to "
                "read accounts.",
                "tags": ["Accounts"],
                "parameters": [one],
                "responses": {
                    "200": _account_response("The account.", GUIDE_ACCOUNTS["results"][0],
                                             ("UpdateAccount", "DeleteAccount")),
                    **errors_of_one,
                },
            },
            "put": {
                "operationId": "replaceAccount",
                "summary": "Replace an account",
                "description": (
                    "Sets `name`, `is_default` and `metadata`; a field left out returns to its "
                    "create default (ACC-10). Making the account the default demotes the former "
                    "default in the same write (ACC-19). `created_at` is kept and `updated_at` "
                    "never moves back (ACC-13). Needs permission to update accounts (ACC-22)."
                ),
                "tags": ["Accounts"],
                "parameters": [one],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": ref("schemas", "AccountReplace"),
                                       "example": {"name": "Production", "is_default": False,
                                                   "metadata": {"tier": "gold"}}}},
                },
                "responses": {
                    "200": _account_response("The account as it now is.",
                                             GUIDE_ACCOUNTS["results"][0], ("DeleteAccount",)),
                    **body_errors, **errors_of_one,
                    "409": ref("responses", "Conflict"),
                },
            },
            "patch": {
                "operationId": "updateAccount",
                "summary": "Change some of an account's fields",
                "description": (
                    "Only the fields sent change (ACC-11); the default rules are PUT's "
                    "(ACC-19, ACC-20). Needs permission to update accounts (ACC-22)."
                ),
                "tags": ["Accounts"],
                "parameters": [one],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("schemas", "AccountPatch"),
                               "example": {"name": "Production EU"}},
                        "application/merge-patch+json": {
                            "schema": ref("schemas", "AccountPatch")},
                    },
                },
                "responses": {
                    "200": _account_response("The account as it now is.",
                                             GUIDE_ACCOUNTS["results"][0], ("DeleteAccount",)),
                    **body_errors, **errors_of_one,
                    "409": ref("responses", "Conflict"),
                },
            },
            "delete": {
                "operationId": "deleteAccount",
                "summary": "Delete an account (soft)",
                "description": (
                    "The account leaves the list and its total (ACC-14) but stays, with "
                    "`deleted_at`, for administrators (`include_deleted=true`). Its id then "
                    "gets 404, a repeated DELETE too (ACC-15). The default account is not "
                    "deleted: 409 (ACC-21). Needs permission to delete accounts (ACC-22)."
                ),
                "tags": ["Accounts"],
                "parameters": [one],
                "responses": {
                    "204": {"description": "Deleted."},
                    **errors_of_one,
                    "409": ref("responses", "Conflict"),
                },
            },
        },
        "/users": {
            "get": _list_operation(
                "listUsers",
                "List the organization's users",
                "No password, hash or other secret ever appears (USER-1 to USER-3, USER-8). "
                "With `account_id`, only that account's members (USER-4, USER-5).",
                "Users",
                "userOrderBy",
                "User",
                EXAMPLE_USERS,
                extra=("accountFilter",),
            )
        },
        "/users/{id}": {
            "get": {
                "operationId": "getUser",
                "summary": "Get one user",
                "description": "A user of the caller's organization (the profile leaves this "
                "endpoint free; where it exists, another organization's user is never read: "
                "USER-9).",
                "tags": ["Users"],
                "parameters": [ref("parameters", "userId")],
                "responses": {
                    "200": {"description": "The user.",
                            "content": {JSON: {"schema": ref("schemas", "User"),
                                               "example": EXAMPLE_USERS["results"][0]}}},
                    **errors_of_one,
                },
            }
        },
        "/.well-known/jwks.json": {
            "get": {
                "operationId": "getJwks",
                "summary": "The public keys that verify access tokens (AUTH-17, SHOULD)",
                "description": "Token headers carry the `kid` of the key that signed them.",
                "tags": ["Keys"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "The JWK Set, public keys only.",
                        "content": {JSON: {"schema": ref("schemas", "JwkSet")}},
                    }
                },
            }
        },
    }


DESCRIPTION = """\
The DPaaS API as the conformance profile (version 2) states it: log in with email, password and
organization slug to get a 15-minute RS256 access token and a rotating refresh token; list,
create, read, update and (softly) delete accounts, one of them the organization's default; list
users, all of them or one account's members; paginated lists; one JSON error format. The
reference server implements every class: CORE, ACCOUNTS, USERS and SERVICE (service accounts
whose keys sign requests with HMAC-SHA256, beside Bearer).

To try it: call **login** (the example is the demo server's admin), copy `access_token` from the
answer, press **Authorize** and paste it. Every list and create call then sends it as
`Authorization: Bearer ACCESS_TOKEN`. It expires after 15 minutes: **refresh** gives a new pair.
To call as a service account instead, enter `ACCESS_KEY:SECRET_KEY` under **hmacAuth** (the demo
server prints its reader's key at start): this page then signs each request in the browser.

Every error has the body `{"error": CODE, "message": TEXT}`; a validation error (422) adds
`details`, naming each bad field with its messages. `401 Unauthorized`, `403 Forbidden` and
`422 ValidationError` are fixed by the guide; other statuses use the same shape with their own
codes (`BadRequest`, `NotFound`, `MethodNotAllowed`, `Conflict`, `PayloadTooLarge`,
`UnsupportedMediaType`, `TooManyRequests`, ...). Message texts, id formats and extra fields are
free. An id the caller's organization does not have, whether it never existed, belongs to
another organization or was deleted, always gets the same 404.

The response schemas are the conformance suite's own. Where the profile leaves a bound free
(name length, metadata size, unknown fields on create), this document states the reference
server's choice and says so.
"""


def _account_with_deletion(account: Schema) -> Schema:
    """The suite's account schema, plus the soft delete's marker (the suite leaves its name
    free, so it is documented here only)."""
    out = copy.deepcopy(account)
    out["properties"]["deleted_at"] = {
        "type": ["string", "null"],
        "description": "When the account was deleted (ISO 8601, `Z`; ACC-16, SHOULD); null "
        "while it lives. Only administrators see deleted accounts (`include_deleted=true`).",
    }
    return out


def build_document() -> dict[str, Any]:
    """The whole document, deterministic, ready to be dumped as JSON."""
    schemas = suite_components()
    schemas["User"] = _user_with_recommended(schemas)
    schemas["UnauthorizedError"] = _error_variant("Unauthorized", "401: the guide's body.")
    schemas["ForbiddenError"] = _error_variant("Forbidden", "403: the guide's body.")
    schemas["ValidationErrorBody"] = _error_variant(
        "ValidationError", "422: the guide's body; `details` names each bad field."
    )
    schemas["AccountList"] = _list_of("Account")
    schemas["UserList"] = _list_of("User")
    schemas.update(_request_schemas())
    schemas.update(openapi_service.schemas())
    schemas["IssuedKey"] = openapi_service.issued_key(schemas["Key"])
    _with_create_properties(schemas)
    schemas["Account"] = _account_with_deletion(schemas["Account"])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DPaaS API (conformance profile)",
            "version": "1.0.0",
            "description": DESCRIPTION,
        },
        "tags": [
            {"name": "Authentication", "description": "Login and refresh-token rotation."},
            {"name": "Accounts", "description": "The organization's accounts."},
            {"name": "Users", "description": "The organization's users."},
            {"name": "Keys", "description": "Public signing keys."},
            {"name": "Service accounts",
             "description": "Service accounts and their API keys (SERVICE)."},
        ],
        "paths": {**_paths(), **openapi_service.paths()},
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "parameters": {**_parameters(), **openapi_service.parameters()},
            "responses": _responses(),
            "links": {**_links(), **_account_links()},
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The `access_token` from login or refresh.",
                },
                "hmacAuth": openapi_service.HMAC_SCHEME,
            },
        },
        "security": [{"bearerAuth": []}, {"hmacAuth": []}],
    }


def render(document: dict[str, Any]) -> str:
    """The committed file's exact text: stable key order, ASCII, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def main() -> int:
    DOCUMENT_PATH.write_text(render(build_document()), encoding="utf-8")
    print(f"wrote {DOCUMENT_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
