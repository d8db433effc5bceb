"""Correct servers for profile v2 that choose differently where ACCOUNTS and USERS leave a
choice free: each must pass every scenario of those classes it is judged by.

A SHOULD warning is allowed only where the profile prefers the other choice (listed in
`expected_warnings`), and a scenario may be *not run* only where the choice makes its check not
apply (`not_run`: USER-9 on a server without `GET /users/{id}`). `all_at_once_v2` makes every
compatible choice together, with some of v1's (German messages, extra fields), and runs every
ACCOUNTS and USERS scenario.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from reference_server.app import Components
from reference_server.authentication import authenticate
from reference_server.errors import Conflict, Forbidden, NotFound
from reference_server.pagination import ListParams
from reference_server.policy import ACTION_LIST_DELETED_ACCOUNTS, accounts_resource
from reference_server.state import AUTHORIZE, STORE
from reference_server.store import AccountWrite, Store
from reference_server.store.accounts import TABLE, is_live
from tests.mutants import CORRECT, HarnessVariant
from tests.mutants.accounts_v2 import answering, current, one_account, sent_body, with_body
from tests.mutants.free import extra_fields, german, is_error, second_precision, timestamps
from tests.mutants.rewrite import rewrite_json, with_query

V2_CLASSES = frozenset({"ACCOUNTS", "USERS"})
ONE_USER = re.compile(r"^/users/(?P<id>[^/]+)$")


def api_body(request: web.Request, *_: Any) -> bool:
    return request.path.startswith(("/accounts", "/users"))


# --- updates ---------------------------------------------------------------------------------


@web.middleware
async def merge_metadata(request: web.Request, handler: Handler) -> web.StreamResponse:
    """PATCH merges `metadata` into the stored one (RFC 7386's way) instead of replacing it."""
    account_id = one_account(request, "PATCH")
    body = await sent_body(request) if account_id else None
    if body is not None and isinstance(body.get("metadata"), dict):
        old = await current(request, account_id or "")
        if old is not None and isinstance(old.get("metadata"), dict):
            with_body(request, {**body, "metadata": {**old["metadata"], **body["metadata"]}})
    return await handler(request)


async def same_name_elsewhere(request: web.Request, name: str, own: str | None) -> bool:
    identity = await authenticate(request)
    store = request.app[STORE]

    def taken() -> bool:
        rows = store._accounts.listing.rows(identity.organization_id)
        for doc_id in rows.page(dataclasses.replace(_ALL, quantity=max(1, rows.total))):
            doc = store._doc(TABLE, doc_id) or {}
            if doc.get("name") == name and doc.get("id") != own:
                return True
        return False

    return await store._run(taken)


@web.middleware
async def unique_names(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Account names are unique in an organization (ACC-23 leaves it free): 409 for a taken one."""
    own = one_account(request, "PUT", "PATCH")
    if own is not None or (request.method == "POST" and request.path == "/accounts"):
        body = await sent_body(request)
        name = body.get("name") if body else None
        if isinstance(name, str) and await same_name_elsewhere(request, name.strip(), own):
            raise Conflict("An account of that name exists")
    return await handler(request)


# --- deletes and include_deleted -------------------------------------------------------------


@web.middleware
async def limited_include_deleted_403(request: web.Request, handler: Handler
                                      ) -> web.StreamResponse:
    """include_deleted=true from a non-administrator is refused rather than filtered."""
    if (request.method == "GET" and request.path == "/accounts"
            and request.query.get("include_deleted", "").lower() == "true"):
        identity = await authenticate(request)
        if not request.app[AUTHORIZE](identity.statements, ACTION_LIST_DELETED_ACCOUNTS,
                                      accounts_resource(identity.organization_id)):
            raise Forbidden("Only administrators see deleted accounts")
    return await handler(request)


async def deleted_here(request: web.Request, account_id: str) -> bool:
    """Whether `account_id` is a deleted account of the caller's organization."""
    identity = await authenticate(request)
    store = request.app[STORE]

    def check() -> bool:
        for doc_id in store._accounts.by_id.ids(account_id):
            doc = store._doc(TABLE, doc_id)
            if doc and doc.get("organization_id") == identity.organization_id and not is_live(
                    doc):
                return True
        return False

    return await store._run(check)


@web.middleware
async def repeated_delete_204(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A repeated DELETE answers 204 again (idempotent), not 404."""
    account_id = one_account(request, "DELETE")
    response = await handler(request)
    if account_id is not None and response.status == 404 and await deleted_here(request,
                                                                                  account_id):
        return web.Response(status=204)
    return response


class InactiveWhenDeleted(Store):
    """A delete also makes the account inactive (free: ACC-16)."""

    def _delete_account_sync(self, organization_id: str, account_id: str) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        result = super()._delete_account_sync(organization_id, account_id)
        if result.status == "ok" and doc_id is not None:
            self._table(TABLE).update({"is_active": False}, doc_ids=[doc_id])
            result = AccountWrite("ok", self._shown(self._doc(TABLE, doc_id) or {}))
        return result


def removed_at(body: Any) -> Any:
    """The deleted marker under another name: `removed_at` (free; `deleted_at` is a SHOULD)."""
    def rename(item: Any) -> Any:
        if isinstance(item, dict) and "deleted_at" in item:
            out = {k: v for k, v in item.items() if k != "deleted_at"}
            out["removed_at"] = item["deleted_at"]
            return out
        return item

    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return {**body, "results": [rename(i) for i in body["results"]]}
    return rename(body)


# --- the default account ---------------------------------------------------------------------


class DefaultOptional(Store):
    """An organization may have no default: unsetting or deleting it is accepted (free:
    ACC-20, ACC-21), and the demo organizations start without one."""

    def _update_account_sync(self, organization_id: str, account_id: str,
                             changes: dict[str, Any]) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        doc = self._doc(TABLE, doc_id)
        if doc_id is None or doc is None:
            return AccountWrite("absent")
        if doc.get("is_default") is True and changes.get("is_default") is False:
            self._table(TABLE).update({"is_default": False, "updated_at": self._stamp(doc)},
                                      doc_ids=[doc_id])
            changes = {k: v for k, v in changes.items() if k != "is_default"}
        return super()._update_account_sync(organization_id, account_id, changes)

    def _delete_account_sync(self, organization_id: str, account_id: str) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        doc = self._doc(TABLE, doc_id)
        if doc_id is not None and doc is not None and doc.get("is_default") is True:
            self._table(TABLE).update({"is_default": False}, doc_ids=[doc_id])
        return super()._delete_account_sync(organization_id, account_id)

    async def drop_defaults(self) -> None:
        def drop() -> None:
            table = self._table(TABLE)
            table.update({"is_default": False},
                         doc_ids=[d.doc_id for d in table.all() if d.get("is_default")])

        await self._run(drop)


class PromotesOnDelete(Store):
    """Deleting the default is accepted; the newest other live account becomes the default
    (free: ACC-21)."""

    def _delete_account_sync(self, organization_id: str, account_id: str) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        doc = self._doc(TABLE, doc_id)
        if doc_id is None or doc is None or doc.get("is_default") is not True:
            return super()._delete_account_sync(organization_id, account_id)
        now = self._stamp(doc)
        self._table(TABLE).update({"is_default": False, "deleted_at": now, "updated_at": now},
                                  doc_ids=[doc_id])
        newest = self._accounts.listing.rows(organization_id).page(_NEWEST)
        if newest:
            self._table(TABLE).update({"is_default": True, "updated_at": now}, doc_ids=newest)
        return AccountWrite("ok", self._shown(self._doc(TABLE, doc_id) or doc))


# --- users -----------------------------------------------------------------------------------


@web.middleware
async def no_user_by_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No `GET /users/{id}` at all (free: USER-9)."""
    if request.method == "GET" and ONE_USER.match(request.path):
        raise NotFound()
    return await handler(request)


@web.middleware
async def foreign_account_id_404(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An account_id that is no live account of the caller's organization gets 404 (free:
    USER-5), the same for a foreign and a never-existing one."""
    account_id = request.query.get("account_id") if request.path == "/users" else None
    if account_id:
        identity = await authenticate(request)
        store = request.app[STORE]
        if not await store._run(store._account_is_live_sync, identity.organization_id,
                                account_id):
            raise NotFound("Account not found")
    return await handler(request)


# --- ids -------------------------------------------------------------------------------------


class TwoWayIds:
    """Small decimal ids ("1", "2", "17"), as an auto-increment key gives, in every answer and
    understood in every path and filter; an id it never minted is passed on unchanged."""

    def __init__(self) -> None:
        self.public: dict[str, str] = {}
        self.internal: dict[str, str] = {}

    def mint(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value not in self.public:
            number = str(len(self.public) + 1)
            self.public[value], self.internal[number] = number, value
        return self.public[value]

    def edit(self, body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("results"), list):
            return {**body, "results": [self.edit(item) for item in body["results"]]}
        if isinstance(body, dict) and "organization_id" in body and "id" in body:
            return {**body, "id": self.mint(body["id"]),
                    "organization_id": self.mint(body["organization_id"])}
        return body

    def middleware(self) -> Middleware:
        edit = rewrite_json(api_body, self.edit)

        @web.middleware
        async def requests(request: web.Request, handler: Handler) -> web.StreamResponse:
            if "id" in request.match_info:
                request.match_info["id"] = self.internal.get(request.match_info["id"],
                                                             request.match_info["id"])
            wanted = request.query.get("account_id")
            if wanted is not None and wanted in self.internal:
                request = with_query(request, account_id=self.internal[wanted])
            return await handler(request)

        @web.middleware
        async def both(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await edit(request, lambda r: requests(r, handler))

        return both


# --- the family ------------------------------------------------------------------------------

_ALL = ListParams(descending=False)
_NEWEST = dataclasses.replace(_ALL, quantity=1, descending=True)


@dataclasses.dataclass(frozen=True)
class V2Variant(HarnessVariant):
    """A correct variant that may also change the demo data once the server has started."""

    on_start: Callable[[web.Application], Any] | None = None

    def make_app(self, settings: Any) -> web.Application:
        app = super().make_app(settings)
        if self.on_start is not None:
            app.on_startup.append(self.on_start)
        return app


async def start_without_defaults(app: web.Application) -> None:
    await app[STORE].drop_defaults()  # type: ignore[attr-defined]


def variant(name: str, why: str, *middlewares: Middleware, store: type[Store] = Store,
            ids: Sequence[str] = (), warnings: Sequence[str] = (), not_run: Sequence[str] = (),
            on_start: Callable[[web.Application], Any] | None = None) -> V2Variant:
    return V2Variant(name, CORRECT, Components(store=store, middlewares=tuple(
                         answering(mw) for mw in middlewares)),
                     expected_warnings=frozenset(warnings), why=why, classes=V2_CLASSES,
                     ids=frozenset(ids), not_run=frozenset(not_run), on_start=on_start)


SECOND_PRECISION = rewrite_json(api_body, timestamps(second_precision))
DEFAULT_IDS = ("ACC-18", "ACC-19", "ACC-20", "ACC-21")
DELETE_IDS = ("ACC-14", "ACC-15", "ACC-16", "ACC-17")
#: what a whole-second clock could upset: comparisons of timestamps, and lists by them
TIME_IDS = ("ACC-7", "ACC-9", "ACC-10", "ACC-11", "ACC-13", "ACC-16", "ACC-22", "USER-6",
            "USER-7")


class EveryStoreChoice(InactiveWhenDeleted, PromotesOnDelete):
    """Deleted accounts inactive, and a deleted default replaced by the newest live account."""


CORRECT_VARIANTS_V2 = [
    variant("patch_merges_metadata", "PATCH merges metadata into the stored one",
            merge_metadata, ids=("ACC-11",)),
    variant("unique_account_names", "account names are unique: 409 for a taken one",
            unique_names, ids=("ACC-10", "ACC-20")),
    variant("limited_include_deleted_403", "include_deleted=true from a non-administrator "
            "is 403, not filtered", limited_include_deleted_403, ids=("ACC-16", "ACC-17")),
    variant("repeated_delete_204", "a repeated DELETE answers 204 again", repeated_delete_204,
            ids=("ACC-14", "ACC-15")),
    variant("deleted_marker_removed_at", "deleted accounts carry removed_at (not deleted_at) "
            "and is_active false", rewrite_json(api_body, removed_at),
            store=InactiveWhenDeleted, ids=DELETE_IDS, warnings=("ACC-16",)),
    variant("second_precision_v2", "whole-second timestamps everywhere, so an update may keep "
            "updated_at", SECOND_PRECISION, ids=TIME_IDS),
    variant("no_user_by_id", "no GET /users/{id}", no_user_by_id, ids=("USER-9",),
            not_run=("USER-9",)),
    variant("foreign_account_id_404", "users of an account_id not the caller's: 404",
            foreign_account_id_404, ids=("USER-4", "USER-5", "USER-8")),
    variant("no_default_account", "an organization may have no default: it starts without one, "
            "and unsetting or deleting the default is accepted", store=DefaultOptional,
            on_start=start_without_defaults, ids=(*DEFAULT_IDS, "ERR-6"),
            warnings=("ACC-20", "ACC-21", "ERR-6")),
    variant("default_delete_promotes", "deleting the default promotes the newest account",
            store=PromotesOnDelete, ids=("ACC-18", "ACC-21"), warnings=("ACC-21", "ERR-6")),
    variant("all_at_once_v2", "every compatible v2 choice at once, with decimal ids (in paths "
            "and filters too), German messages and extra fields", rewrite_json(is_error, german),
            rewrite_json(lambda r, resp: True, extra_fields), TwoWayIds().middleware(),
            SECOND_PRECISION, rewrite_json(api_body, removed_at), no_user_by_id,
            foreign_account_id_404, limited_include_deleted_403, repeated_delete_204,
            unique_names, merge_metadata, store=EveryStoreChoice,
            warnings=("ACC-16", "ACC-21", "ERR-6"), not_run=("USER-9",)),
]

