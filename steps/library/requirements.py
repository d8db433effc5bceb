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
    "SA": "service accounts",
    "KEY": "API keys",
    "HMAC": "signed requests",
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
        _r("USER-2", "B OWASP API3",
           must="no password, hash or secret appears in any response (but the secret_key in "
                "the answer that issues a key)"),
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
                "with ACCOUNTS, any accepted PUT or PATCH; with SERVICE, any accepted service "
                "account or key), every list page and every get still answers 200 with valid "
                "JSON for every principal"),
        _r("ERR-6", "B RFC 9110 15.5.10",
           should="a conflict with the resource's state (the default account) is 409 Conflict "
                  "in the same error shape"),
        _r("ERR-7", "B RFC 9110, OWASP API1",
           must="every 404 for a missing, foreign or deleted id, and every 401 to a signed "
                "request, is a JSON error with error and message, and none of these cases "
                "answers 5xx"),
        # --- SERVICE: service accounts, API keys, signed requests (profile v2)
        _r("AUTH-18", "R HMAC authentication, S",
           must="every protected endpoint of the claimed classes accepts signed requests from "
                "service-account keys, and users manage service accounts and keys with bearer "
                "tokens"),
        _r("SA-1", "R service accounts",
           must="GET /service-accounts is a list (LIST-1 to LIST-4) whose items have id, name, "
                "description, account_id, organization_id, is_active, metadata, created_at, "
                "updated_at and last_used_at"),
        _r("SA-2", "R service accounts",
           must="account_id=X lists only X's service accounts, with total to match"),
        _r("SA-3", "inferred from R",
           must="creating a service account answers 2xx with it, in the caller's organization, "
                "active, never used, and it is listed",
           should="creating a service account answers 201"),
        _r("SA-4", "B OWASP API1",
           must="a missing or wrongly typed name or account_id gives 422 naming it; an "
                "account_id that is no account of the caller's organization gives 422 naming it "
                "or 404, never a service account tied to another organization"),
        _r("SA-5", "R, B OWASP API3",
           must="no service-account object carries key material (a secret, its hash or an "
                "encrypted form)"),
        _r("SA-6", "R, B OWASP API1, CWE-204",
           must="GET /service-accounts/{id} answers 200 with it; another organization's id never "
                "succeeds or leaks",
           should="another organization's id gets the answer of a never-existing id"),
        _r("SA-7", "inferred from R, B OWASP API2",
           must="once the admin deactivates or deletes a service account, its keys stop "
                "authenticating at once",
           should="inactive service accounts are left out of the list unless "
                  "include_inactive=true"),
        _r("SA-8", "profile decision",
           free="other updates and deletes, personal service accounts and how often "
                "last_used_at is updated are the target's choice"),
        _r("KEY-1", "R API keys",
           must="issuing a key answers 2xx with access_key, secret_key and expires_at (as sent, "
                "or null or a default lifetime when none was sent)",
           should="issuing a key answers 201 with the key's id"),
        _r("KEY-2", "R API keys",
           must="a key's secret_key is shown in the answer that issued it and in no later "
                "answer"),
        _r("KEY-3", "R API keys",
           must="a new key authenticates at once; once a signed request succeeded, the key's "
                "and its service account's last_used_at are set"),
        _r("KEY-4", "inferred from R",
           should="the key list is a list of keys with id, access_key, description, "
                  "service_account_id, expires_at, is_active, created_at and last_used_at, "
                  "and no secret"),
        _r("KEY-5", "R API keys",
           must="revoking a key answers 2xx; the very next request signed with it gets 401, "
                "and the service account's other keys keep working"),
        _r("KEY-6", "inferred, a security property",
           must="once expires_at is past on the server's clock, the key gets 401",
           should="an expires_at already past at issue gives 422"),
        _r("KEY-7", "R API keys",
           must="a key with an ip_allowlist is refused (401 or 403) from outside its CIDRs and "
                "authenticated from inside",
           should="a non-CIDR ip_allowlist entry gives 422 naming ip_allowlist"),
        _r("KEY-8", "inferred",
           must="no two issued keys share an access_key or a secret_key, and no access_key "
                "contains a colon"),
        _r("KEY-9", "B OWASP API1",
           must="keys of another organization's service account can be neither issued, listed "
                "nor revoked, and the attempt creates nothing",
           should="such an attempt gets the 404 of a never-existing id"),
        _r("KEY-10", "S, R",
           must="a principal without the right gets 403 Forbidden on issuing and revoking "
                "keys"),
        _r("KEY-11", "profile decision",
           free="key formats, the default lifetime and how many keys a service account holds "
                "are the target's choice"),
        _r("HMAC-1", "R HMAC authentication",
           must="a request signed as the profile says authenticates as the key's service "
                "account: the answer is not 401"),
        _r("HMAC-2", "R HMAC authentication",
           must="the string to sign is the method, the path and the query as sent, x-date, "
                "x-nonce and x-content-sha256, and the signature padded standard Base64"),
        _r("HMAC-3", "R HMAC authentication",
           must="x-content-sha256 is the lowercase hex SHA-256 of the exact body, and a value "
                "that does not match the body gives 401"),
        _r("HMAC-4", "R, B RFC 9110",
           must="a missing signed header, an Authorization or x-date that cannot be parsed, or "
                "an unknown key gives 401, never 5xx; header names match in any case",
           should="the scheme name HMAC matches in any case"),
        _r("HMAC-5", "R HMAC authentication",
           must="a wrong secret, or a change after signing to the method, path, query, body, "
                "x-date or x-nonce, gives 401"),
        _r("HMAC-6", "R, B CWE-294",
           must="a nonce works once per key: a resent request or a new signature over a used "
                "nonce gets 401, and a request refused after authentication uses its nonce up"),
        _r("HMAC-7", "S3's bound, R, B SigV4, Hawk",
           must="an x-date more than 900 s from the server's time gives 401, and "
                "YYYY-MM-DDTHH:MM:SSZ is accepted",
           should="x-date beyond 300 s (or the declared window plus 60 s) is refused, and "
                  "within 60 s (or half the declared window) accepted"),
        _r("HMAC-8", "inferred, B CWE-294",
           must="a used nonce is kept as long as its x-date would be accepted: no replay inside "
                "the window works",
           should="used nonces are kept across a restart"),
        _r("HMAC-9", "B CWE-294",
           should="of several concurrent copies of one signed request exactly one is "
                  "authenticated"),
        _r("HMAC-10", "S, B RFC 9110, CWE-204",
           must="a failed signed authentication answers 401 with the Unauthorized body (a 403 "
                "allowed only for an address outside the allowlist)",
           should="an unknown key and a wrong signature get identical answers, and a 401 to a "
                  "signed request carries a WWW-Authenticate challenge for HMAC"),
        _r("HMAC-11", "R authorization",
           must="once authenticated, the service account's own rights decide; a refusal is "
                "403 Forbidden"),
        _r("HMAC-12", "B OWASP API2",
           must="a key gets 401 once its service account, that service account's account or "
                "the organization is inactive or deleted"),
        _r("HMAC-13", "profile decision",
           free="a Date header beside x-date, nonce syntax (a UUID is accepted) and unsigned "
                "headers are the target's choice"),
        _r("HMAC-14", "R organizations, B OWASP API1",
           must="a service account stays inside its organization: lists hold only its "
                "organization's items and another organization's ids get ACC-9's answer"),
        _r("ERR-3", "profile decision",
           free="message wording, id format and extra fields in any object are the target's "
                "choice"),
    ]
}


def checked_pairs() -> set[tuple[str, str]]:
    """Every (id, level) the suite must cover: the MUST and SHOULD parts, not the FREE ones."""
    return {(r.id, level) for r in REQUIREMENTS.values() for level in r.rules if level in LEVELS}
