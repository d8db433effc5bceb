"""The requirement registry: every id of the DPaaS conformance profile, in our own words.

Source of truth is the project's conformance profile, built on the "Your First API Call" guide.
This module restates it so the suite can name, in a failure, the rule a target broke, and so a
test can prove every MUST and SHOULD id has a scenario. Sources: S = the guide,
R = the wider DPaaS API reference, B = best practice (the RFC or OWASP item named).
"""

from __future__ import annotations

from dataclasses import dataclass

MUST = "must"
SHOULD = "should"
FREE = "free"
LEVELS = (MUST, SHOULD)

AREAS = {
    "AUTH": "authentication",
    "LIST": "lists",
    "ACC": "accounts",
    "USER": "users",
    "ERR": "errors",
}


@dataclass(frozen=True)
class Requirement:
    id: str
    rules: dict[str, str]  # level -> one-line rule; one id may hold a MUST and a SHOULD part
    source: str

    @property
    def area(self) -> str:
        return AREAS[self.id.split("-")[0]]

    @property
    def classes(self) -> frozenset[str]:
        """The conformance classes this id belongs to (v2; see `classes`)."""
        from dpaas_conformance.library.classes import classes_of  # v2 classes: call site

        return classes_of(self.id)

    def rule(self, level: str) -> str:
        return self.rules.get(level) or next(iter(self.rules.values()))


def _r(id_: str, source: str, **rules: str) -> Requirement:
    return Requirement(id_, dict(rules), source)


REQUIREMENTS: dict[str, Requirement] = {
    r.id: r
    for r in [
        _r("AUTH-1", "S step 1",
           must="login answers 200 with access_token, refresh_token, token_type Bearer and "
                "expires_in 900"),
        _r("AUTH-2", "S step 1 example token",
           must="the access token is a JWT with header alg RS256 and claims sub and exp"),
        _r("AUTH-3", "B RFC 7519", should="exp - iat is 900 and iat is close to now"),
        _r("AUTH-4", "S error handling",
           must="a missing or wrongly typed login field gives 422 ValidationError naming it"),
        _r("AUTH-5", "S, B OWASP API2",
           must="bad credentials (password, email or organization) give a 4xx JSON error with "
                "error and message and no token",
           should="bad credentials give 401 Unauthorized with the same status and body for "
                  "every cause (no user enumeration)"),
        _r("AUTH-6", "B RFC 6749 5.1",
           should="every response that carries tokens has Cache-Control: no-store"),
        _r("AUTH-7", "B OWASP API2/API4",
           should="repeated failed logins are throttled with 429 and Retry-After"),
        _r("AUTH-8", "S refreshing your token",
           must="refresh answers 200 with the login body shape and a different refresh token"),
        _r("AUTH-9", "S refreshing your token",
           must="a refresh token that was used is refused afterwards with a 4xx JSON error and "
                "no tokens",
           should="refusing a used refresh token answers 401 Unauthorized"),
        _r("AUTH-10", "S refreshing your token",
           must="the access and refresh tokens that a refresh returns both work"),
        _r("AUTH-11", "S, B RFC 6749 5.2",
           must="an unknown or malformed refresh token is refused with a 4xx JSON error and no "
                "tokens; a missing one gives 422",
           should="an unknown or malformed refresh token gets 401 Unauthorized"),
        _r("AUTH-12", "B RFC 9700 4.14.2",
           should="reusing a rotated refresh token revokes its family: the newest one fails too"),
        _r("AUTH-13", "B RFC 9700 4.14.2",
           should="of several concurrent refreshes with one token exactly one succeeds"),
        _r("AUTH-14", "profile decision",
           free="whether an access token stays valid until exp after a refresh"),
        _r("AUTH-15", "S error handling, B RFC 8725",
           must="a missing, malformed, badly signed, alg none, HS256-with-public-key or expired "
                "bearer token gets 401 Unauthorized"),
        _r("AUTH-16", "B RFC 6750 3",
           should="a 401 on a protected endpoint carries WWW-Authenticate: Bearer"),
        _r("AUTH-17", "B RFC 7517, RFC 8725",
           should="public keys are published as a JWK Set at /.well-known/jwks.json and tokens "
                  "carry a kid that verifies against it"),
        _r("LIST-1", "S response format",
           must="a list body is {total, page, results}; total counts every item, page echoes"),
        _r("LIST-2", "S pagination",
           must="defaults page 1 and quantity 20; never more than quantity items, at most 100"),
        _r("LIST-3", "S pagination", must="walking every page yields every item exactly once"),
        _r("LIST-4", "S pagination, R conventions",
           must="order_by sorts ascending, -field descending; newest first by default; items "
                "with equal keys may come in any order that stays fixed for a whole walk"),
        _r("LIST-5", "B OWASP API4",
           should="a bad page, a quantity below 1 or above 100, a non-integer or an unknown "
                  "order_by gives 422 naming the parameter (clamping quantity still passes "
                  "LIST-2)"),
        _r("LIST-6", "B",
           should="a page past the end is 200 with empty results and the true total"),
        _r("ACC-1", "R accounts, B OWASP API1",
           must="every listed account belongs to the caller's organization"),
        _r("ACC-2", "S step 3",
           must="creating an account answers 2xx with it, in the caller's organization, active, "
                "as sent; it is listed and total grows by one",
           should="creating an account answers 201"),
        _r("ACC-3", "S error handling",
           must="a missing name or a wrongly typed field gives 422 naming the field"),
        _r("ACC-4", "B OWASP API3",
           must="id, organization_id, created_at and updated_at sent on create are never honoured"),
        _r("ACC-5", "S error handling",
           must="a principal without permission to create gets 403 Forbidden"),
        _r("ACC-6", "S step 2, R accounts",
           must="an account has id, name, organization_id, is_default, is_active, created_at and "
                "updated_at, timestamps ISO 8601 in UTC",
           should="an account has a metadata object and timestamps end in Z"),
        _r("ACC-7", "R accounts",
           must="GET /accounts/{id} answers 200 with the account, the same as in the list"),
        _r("ACC-8", "B RFC 9110 15.5.5",
           must="GET, PUT, PATCH or DELETE of an id the caller's organization does not have "
                "gives 404 with a JSON error and message",
           should="that 404's error is NotFound"),
        _r("ACC-9", "R organizations, B OWASP API1, CWE-639, CWE-204",
           must="another organization's id never succeeds on GET, PUT, PATCH or DELETE, the "
                "answer carries no field of it, and its owner reads it unchanged",
           should="another organization's id gets exactly the answer of a never-existing id: "
                  "status, error and header names"),
        _r("ACC-10", "R conventions, B RFC 9110 9.3.4",
           must="PUT needs a string name (else 422 naming it), stores is_default and metadata as "
                "sent, answers 2xx, and a later GET shows the new values",
           should="PUT answers 200 with the updated account, and a left-out optional field "
                  "returns to its create default (metadata {}, is_default false)"),
        _r("ACC-11", "R conventions",
           must="PATCH changes only the top-level fields sent; name null or a wrongly typed "
                "field gives 422 naming it"),
        _r("ACC-12", "B OWASP API3",
           must="PUT or PATCH cannot set id, organization_id, created_at, updated_at or "
                "deleted_at, and cannot move an account to another organization"),
        _r("ACC-13", "R conventions",
           must="an accepted update keeps created_at and never moves updated_at backwards"),
        _r("ACC-14", "R conventions",
           must="DELETE answers 2xx; the account leaves the default list and its total drops",
           should="DELETE answers 204"),
        _r("ACC-15", "inferred from R", should="after a delete, GET, PUT and PATCH give 404"),
        _r("ACC-16", "R conventions",
           must="include_deleted=true by the administrator lists deleted accounts too, counts "
                "them in total and keeps LIST-1 to LIST-4",
           should="a deleted account carries deleted_at, ISO 8601 ending in Z"),
        _r("ACC-17", "R conventions",
           must="include_deleted=true from a non-administrator never reveals a deleted account"),
        _r("ACC-18", "inferred",
           must="an organization never has two live accounts reading is_default true"),
        _r("ACC-19", "inferred, S step 3",
           must="an account created or updated with is_default true becomes the default and "
                "the former default reads false",
           should="after several simultaneous make-default requests exactly one default "
                  "remains"),
        _r("ACC-20", "inferred, B RFC 9110 15.5.10",
           must="a refused unset of the default is a 4xx JSON error that changes nothing",
           should="is_default false on the current default is refused with 409 Conflict"),
        _r("ACC-21", "inferred, B RFC 9110 15.5.10",
           must="deleting the current default never answers 5xx; a refusal is a 4xx JSON error "
                "that changes nothing, and at most one default remains",
           should="deleting the current default is refused with 409 Conflict"),
        _r("ACC-22", "S error handling, B OWASP API5",
           must="a principal without the right gets 403 Forbidden on PUT, PATCH and DELETE, and "
                "the account stays as it was"),
        _r("ACC-23", "profile decision",
           free="unique names, restoring deleted accounts, a writable is_active and other "
                "include_deleted values are the target's choice"),
        _r("USER-1", "S common patterns, R users",
           must="/users is a list; each user has id, email, organization_id, created_at, "
                "updated_at",
           should="each user also has is_active, is_verified, mfa_enabled, metadata, "
                  "last_login_at"),
        _r("USER-2", "B OWASP API3", must="no password, hash or secret appears in any response"),
        _r("USER-3", "R users, B OWASP API1",
           must="only users of the caller's organization are listed"),
        _r("USER-4", "R users",
           must="GET /users?account_id=X lists exactly X's members, total counting only them, "
                "and pages walk that set once"),
        _r("USER-5", "B OWASP API1",
           must="another organization's account_id lists none of that organization's users",
           should="another organization's account_id gets the same answer as a never-existing "
                  "one"),
        _r("USER-6", "R users", must="once a user has logged in, its last_login_at is a timestamp"),
        _r("USER-7", "R users",
           should="is_active, is_verified and mfa_enabled are booleans, metadata an object, "
                  "last_login_at a string or null"),
        _r("USER-8", "B OWASP API1/API3",
           must="no secret and no other organization's user appears under any filter"),
        _r("USER-9", "inferred from R's URLs, B OWASP API1",
           must="where GET /users/{id} reads the caller's own users, it never answers 200 for "
                "another organization's user"),
        _r("ERR-0", "S error handling",
           must="401, 403 and 422 bodies are {error, message} (422 adds details) with error "
                "Unauthorized, Forbidden, ValidationError"),
        _r("ERR-1", "B RFC 9110",
           should="other errors use the same shape: BadRequest, NotFound, MethodNotAllowed, "
                  "RequestTimeout, PayloadTooLarge, URITooLong, UnsupportedMediaType, "
                  "TooManyRequests, RequestHeaderFieldsTooLarge, InternalError, including "
                  "errors raised before any route runs"),
        _r("ERR-2", "B", must="a body that is not JSON or not an object gives a 4xx JSON error"),
        _r("ERR-4", "B RFC 8259",
           must="every JSON response body is valid JSON: no NaN or Infinity, no lone surrogate "
                "escapes; a request carrying them gets a 4xx or is stored so it reads back valid"),
        _r("ERR-5", "B OWASP API4",
           must="nothing a write accepts can break a later read: after any accepted create (and, "
                "with ACCOUNTS, any accepted PUT or PATCH), every list page and every get still "
                "answers 200 with valid JSON for every principal"),
        _r("ERR-6", "B RFC 9110 15.5.10",
           should="a conflict with the resource's state (the default account) is 409 Conflict "
                  "in the same error shape"),
        _r("ERR-7", "B RFC 9110, OWASP API1",
           must="every 404 for a missing, foreign or deleted id is a JSON error with error and "
                "message, and none of these cases answers 5xx"),
        _r("ERR-3", "profile decision",
           free="message wording, id format and extra fields in any object are the target's "
                "choice"),
    ]
}


def checked_pairs() -> set[tuple[str, str]]:
    """Every (id, level) the suite must cover: the MUST and SHOULD parts, not the FREE ones."""
    return {(r.id, level) for r in REQUIREMENTS.values() for level in r.rules if level in LEVELS}
