"""Broken variants for the ACCOUNTS class (profile v2): one account by id, updates, the soft
delete, `include_deleted`, the default account, and ERR-5, ERR-6 and ERR-7 where they reach it.

Each breaks one MUST or SHOULD id the way a real implementation might: through the store (its
one `find_account`, its writes), the policy, or a middleware that answers as a buggy handler
would. A SHOULD mutant names the MUST ids whose scenarios it must still pass (`watch`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from reference_server.app import Components
from reference_server.authentication import authenticate
from reference_server.errors import ApiError, Forbidden, NotFound
from reference_server.pagination import ListParams, Page
from reference_server.policy import (
    ACTION_LIST_DELETED_ACCOUNTS,
    ACTION_UPDATE_ACCOUNT,
    is_allowed,
)
from reference_server.state import STORE
from reference_server.store import AccountWrite, Store, isoformat
from reference_server.store.accounts import TABLE, is_live
from tests.mutants import MUST, MUTANT, SHOULD, HarnessVariant
from tests.mutants.catalog import nesting
from tests.mutants.rewrite import json_body, rebuilt, rewrite_json, rewrite_request, with_query

MUTANTS_V2: list[HarnessVariant] = []
#: a v2 mutant is judged by the scenarios of any class (one citing ERR-5 may be ACCOUNTS)
EVERY_CLASS = frozenset({"CORE", "ACCOUNTS", "USERS", "SERVICE"})
ONE_ACCOUNT = re.compile(r"^/accounts/(?P<id>[^/]+)$")


def register(into: list[HarnessVariant]) -> Callable[..., None]:
    """A `mutant(name, requirement, level, breaks, watch=..., **components)` adding to `into`."""

    def mutant(name: str, requirement: str, level: str, breaks: str, *,
               watch: Sequence[str] = (), classes: frozenset[str] = EVERY_CLASS,
               **parts: Any) -> None:
        into.append(HarnessVariant(name, MUTANT, Components(**parts), requirement, level,
                                   breaks, watch=frozenset(watch), classes=classes))

    return mutant


mutant = register(MUTANTS_V2)


def answering(mw: Middleware) -> Middleware:
    """The middleware with the API's own errors answered as the API answers them: these run
    outside the server's error middleware, where a raised ApiError would become a 500."""

    @web.middleware
    async def wrapped(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await mw(request, handler)
        except ApiError as exc:
            return exc.response()

    return wrapped


def middleware(*mws: Middleware) -> dict[str, Any]:
    return {"middlewares": tuple(answering(mw) for mw in mws)}


def one_account(request: web.Request, *methods: str) -> str | None:
    """The id of a `/accounts/{id}` request of one of `methods`, else None (as the route will
    read it: an outer middleware may have rewritten it)."""
    match = ONE_ACCOUNT.match(request.path)
    if not match or (methods and request.method not in methods):
        return None
    return request.match_info.get("id") or match["id"]


async def sent_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError, web.HTTPException):
        return None
    return body if isinstance(body, dict) else None


def with_body(request: web.Request, body: Mapping[str, Any]) -> web.Request:
    """The request as the handler will read it, with another JSON body."""
    request._read_bytes = json.dumps(body).encode()  # the body the handler will read
    return request


def edit_body(match: Callable[[web.Request], bool],
              edit: Callable[[web.Request, dict[str, Any]], Any]) -> Middleware:
    """Rewrite the JSON body of matching requests (`edit` may consult the store)."""

    @web.middleware
    async def mw(request: web.Request, handler: Handler) -> web.StreamResponse:
        if match(request):
            body = await sent_body(request)
            if body is not None:
                changed = await edit(request, body)
                if changed is not None:
                    with_body(request, changed)
        return await handler(request)

    return mw


async def current(request: web.Request, account_id: str) -> dict[str, Any] | None:
    """The account as its caller's organization has it (None: absent)."""
    identity = await authenticate(request)
    return await request.app[STORE].get_account(identity.organization_id, account_id)


class Forces(Store):
    """A store that can also write any fields of an account: what a handler that trusts its
    input does."""

    async def force(self, organization_id: str, account_id: str, fields: Mapping[str, Any]
                    ) -> None:
        def write() -> None:
            doc_id = self.find_account(organization_id, account_id)
            if doc_id is not None:
                self._table(TABLE).update(dict(fields), doc_ids=[doc_id])

        await self._run(write)


# --- one account by id (ACC-7, ACC-8, ACC-9, ERR-7) ------------------------------------------


def foreign_doc(store: Store, account_id: Any) -> dict[str, Any] | None:
    """Another organization's account with that id, as a store that looked it up would have it
    (runs on the store thread)."""
    for doc_id in store._accounts.by_id.ids(account_id):
        doc = store._doc(TABLE, doc_id)
        if doc is not None:
            return doc
    return None


class ForeignForbidden(Store):
    """Tells a foreign id from a missing one: 403 for another organization's account."""

    def find_account(self, organization_id: str, account_id: Any) -> int | None:
        found = super().find_account(organization_id, account_id)
        if found is None and foreign_doc(self, account_id) is not None:
            raise Forbidden("This account belongs to another organization")
        return found


class ForeignReachable(Store):
    """Forgets the tenant in the one lookup by id: any organization's account is reachable."""

    def find_account(self, organization_id: str, account_id: Any) -> int | None:
        for doc_id in self._accounts.by_id.ids(account_id):
            doc = self._doc(TABLE, doc_id)
            if doc is not None and is_live(doc):
                return doc_id
        return None


class ForeignNamed(Store):
    """A 404 for a foreign id that says whose it is, and its name."""

    def find_account(self, organization_id: str, account_id: Any) -> int | None:
        found = super().find_account(organization_id, account_id)
        doc = foreign_doc(self, account_id) if found is None else None
        if doc is not None and doc.get("organization_id") != organization_id:
            raise NotFound(f"Account {doc.get('name')!r} belongs to another organization")
        return found


class ForeignCode(ApiError):
    status, error, message = 404, "AccountNotInOrganization", "Account not found"


class ForeignOtherCode(Store):
    def find_account(self, organization_id: str, account_id: Any) -> int | None:
        found = super().find_account(organization_id, account_id)
        doc = foreign_doc(self, account_id) if found is None else None
        if doc is not None and doc.get("organization_id") != organization_id:
            raise ForeignCode()
        return found


class MissingCrashes(Store):
    def find_account(self, organization_id: str, account_id: Any) -> int | None:
        found = super().find_account(organization_id, account_id)
        if found is None and foreign_doc(self, account_id) is None:
            raise KeyError(account_id)  # an unhandled lookup miss: a 500
        return found


class TextNotFound(ApiError):
    """A 404 in plain text, as a framework's default handler sends it."""

    status = 404

    def response(self) -> web.Response:
        return web.Response(status=404, text="404: account deleted")


class DeletedAsText(Store):
    """A deleted account's id is answered by a plain-text 404 (a handler of its own)."""

    def find_account(self, organization_id: str, account_id: Any) -> int | None:
        found = super().find_account(organization_id, account_id)
        doc = foreign_doc(self, account_id) if found is None else None
        if doc is not None and doc.get("organization_id") == organization_id:
            raise TextNotFound()
        return found


def as_400(request: web.Request, response: web.Response) -> web.Response:
    return rebuilt(response, {"error": "BadRequest", "message": "No such account"}, 400)


@web.middleware
async def not_found_400(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if one_account(request) is not None and response.status == 404 and isinstance(
            response, web.Response):
        return as_400(request, response)
    return response


def get_name_upper(request: web.Request, response: web.Response) -> bool:
    return one_account(request, "GET") is not None and response.status == 200


mutant("get_by_id_differs_from_list", "ACC-7", MUST, "GET by id answers the name in capitals",
       **middleware(rewrite_json(get_name_upper, lambda b: {**b, "name": str(b["name"]).upper()})))


mutant("unknown_id_400", "ACC-8", MUST, "an id the organization lacks gets 400, not 404",
       **middleware(not_found_400))
mutant("foreign_id_403", "ACC-8", MUST, "another organization's id gets 403, not 404",
       store=ForeignForbidden)
mutant("unknown_id_other_name", "ACC-8", SHOULD,
       'an id the organization lacks gets a 404 "AccountNotFound", not "NotFound"',
       **middleware(rewrite_json(
           lambda r, resp: one_account(r) is not None and resp.status == 404,
           lambda body: {**body, "error": "AccountNotFound"})))
mutant("foreign_ids_reachable", "ACC-9", MUST,
       "GET, PUT, PATCH and DELETE reach another organization's account", store=ForeignReachable)
mutant("foreign_404_names_it", "ACC-9", MUST,
       "the 404 for another organization's id shows its name", store=ForeignNamed)
mutant("foreign_404_other_code", "ACC-9", SHOULD,
       'another organization\'s id gets a 404 "AccountNotInOrganization", a missing one "NotFound"',
       store=ForeignOtherCode, watch=("ACC-8", "ACC-9"))
mutant("missing_id_crashes", "ERR-7", MUST, "an id that never existed is a 500",
       store=MissingCrashes)
mutant("deleted_id_text_404", "ERR-7", MUST, "a deleted id gets a plain-text 404",
       store=DeletedAsText)


# --- updates (ACC-10 to ACC-13, ACC-22, ERR-5) -----------------------------------------------


def on_update(*methods: str) -> Callable[[web.Request], bool]:
    return lambda request: one_account(request, *methods) is not None


async def drop_metadata(request: web.Request, body: dict[str, Any]) -> Any:
    return {k: v for k, v in body.items() if k != "metadata"}


async def keep_old_name(request: web.Request, body: dict[str, Any]) -> Any:
    if isinstance(body.get("name"), str):
        return None
    old = await current(request, one_account(request) or "")
    return {**body, "name": old["name"]} if old else None


async def keep_left_out(request: web.Request, body: dict[str, Any]) -> Any:
    old = await current(request, one_account(request) or "")
    if old is None:
        return None
    return {**{k: old[k] for k in ("is_default", "metadata") if k in old}, **body}


async def reset_left_out(request: web.Request, body: dict[str, Any]) -> Any:
    return {"metadata": {}, **body} if "name" in body else None


async def drop_nulls(request: web.Request, body: dict[str, Any]) -> Any:
    return {k: v for k, v in body.items() if v is not None}


@web.middleware
async def put_204(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if one_account(request, "PUT") is not None and response.status == 200:
        return web.Response(status=204, headers={"Cache-Control": "no-store"})
    return response


mutant("put_ignores_metadata", "ACC-10", MUST, "PUT does not store the metadata sent",
       **middleware(edit_body(on_update("PUT"), drop_metadata)))
mutant("put_without_name_keeps_it", "ACC-10", MUST, "PUT without a name keeps the old one",
       **middleware(edit_body(on_update("PUT"), keep_old_name)))
mutant("put_answers_204", "ACC-10", SHOULD, "PUT answers 204 without the account",
       watch=("ACC-10", "ACC-13", "ACC-19"), **middleware(put_204))
mutant("put_keeps_left_out_fields", "ACC-10", SHOULD,
       "PUT keeps the metadata and is_default it was not sent",
       watch=("ACC-10", "ACC-13", "ACC-19"),
       **middleware(edit_body(on_update("PUT"), keep_left_out)))
mutant("patch_resets_unsent_fields", "ACC-11", MUST,
       "PATCH of the name resets the metadata it was not sent",
       **middleware(edit_body(on_update("PATCH"), reset_left_out)))
mutant("patch_name_null_accepted", "ACC-11", MUST, "PATCH with name null answers 200",
       **middleware(edit_body(on_update("PATCH"), drop_nulls)))


def other_notation(value: Any) -> Any:
    """A timestamp written back as +00:00 rather than as it came (the same instant)."""
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return value
    return stamp.astimezone(UTC).isoformat()


def honours(field: str, write: Callable[[Any], Any] = lambda value: value) -> dict[str, Any]:
    """A handler that strips `field` before validating, then writes it (as `write` makes it)
    anyway."""

    @web.middleware
    async def mw(request: web.Request, handler: Handler) -> web.StreamResponse:
        account_id = one_account(request, "PUT", "PATCH")
        body = await sent_body(request) if account_id else None
        if body is None or field not in body:
            return await handler(request)
        response = await handler(with_body(request, {k: v for k, v in body.items()
                                                     if k != field}))
        if response.status < 300:
            identity = await authenticate(request)
            await request.app[STORE].force(identity.organization_id, account_id,
                                           {field: write(body[field])})  # type: ignore[attr-defined]
        return response

    return {"store": Forces, "middlewares": (answering(mw),)}


mutant("update_honours_created_at", "ACC-12", MUST, "PUT and PATCH store the created_at sent",
       **honours("created_at"))
mutant("update_honours_updated_at_other_notation", "ACC-12", MUST,
       "PUT and PATCH store the updated_at sent, written back as +00:00 instead of Z",
       **honours("updated_at", other_notation))
mutant("update_moves_organization", "ACC-12", MUST,
       "PUT and PATCH store the organization_id sent", **honours("organization_id"))


class ResetsCreatedAt(Store):
    def _update_account_sync(self, organization_id: str, account_id: str,
                             changes: dict[str, Any]) -> AccountWrite:
        result = super()._update_account_sync(organization_id, account_id, changes)
        doc_id = self.find_account(organization_id, account_id)
        if result.status == "ok" and doc_id is not None:
            self._table(TABLE).update({"created_at": isoformat(self.now() + 1)},
                                      doc_ids=[doc_id])
        return result


class UpdatedAtBackwards(Store):
    def _update_account_sync(self, organization_id: str, account_id: str,
                             changes: dict[str, Any]) -> AccountWrite:
        result = super()._update_account_sync(organization_id, account_id, changes)
        doc_id = self.find_account(organization_id, account_id)
        if result.status == "ok" and doc_id is not None:
            self._table(TABLE).update({"updated_at": "2001-01-01T00:00:00.000000Z"},
                                      doc_ids=[doc_id])
        return result


mutant("update_moves_created_at", "ACC-13", MUST, "an update sets created_at to now",
       store=ResetsCreatedAt)
mutant("updated_at_goes_backwards", "ACC-13", MUST, "an update sets updated_at to 2001",
       store=UpdatedAtBackwards)


def lets_anyone_update(statements: Any, action: str, resource: str) -> bool:
    return action == ACTION_UPDATE_ACCOUNT or is_allowed(statements, action, resource)


@web.middleware
async def writes_then_forbids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Checks the permission after the write, as a handler that authorizes late would."""
    response = await handler(request)
    account_id = one_account(request, "PUT", "PATCH", "DELETE")
    if account_id is None or response.status != 403:
        return response
    identity = await authenticate(request)
    store = request.app[STORE]
    if request.method == "DELETE":
        await store.delete_account(identity.organization_id, account_id)
    else:
        body = await sent_body(request) or {}
        await store.update_account(identity.organization_id, account_id,
                                   {k: body[k] for k in ("name",) if isinstance(body.get(k),
                                                                                str)})
    return response


mutant("limited_may_update", "ACC-22", MUST, "the policy lets anyone update accounts",
       authorize=lets_anyone_update)
mutant("forbidden_after_the_write", "ACC-22", MUST, "a 403 that comes after the change is made",
       **middleware(writes_then_forbids))


def deep_update_breaks_reads() -> dict[str, Any]:
    """Stores an update whose metadata it cannot serve back; every read of it is then a 500."""
    poisoned: set[str] = set()

    @web.middleware
    async def mw(request: web.Request, handler: Handler) -> web.StreamResponse:
        account_id = one_account(request, "PUT", "PATCH")
        if account_id is not None:
            try:
                sent = json.loads(await request.read())
            except (ValueError, RecursionError):
                sent = None
            if isinstance(sent, dict) and nesting(sent.get("metadata")) > 64:
                response = await handler(with_body(request, {
                    k: v for k, v in sent.items() if k != "metadata"}))
                if response.status < 300:
                    poisoned.add(account_id)
                return response
            return await handler(request)
        response = await handler(request)
        body = json_body(response)
        shown = {one_account(request)} if isinstance(body, dict) and "id" in body else {
            item.get("id") for item in (body or {}).get("results", []) if isinstance(item, dict)
        } if isinstance(body, dict) else set()
        if poisoned & shown:
            return web.json_response({"error": "InternalError", "message": "crash"}, status=500)
        return response

    return middleware(mw)


mutant("deep_metadata_by_update_breaks_reads", "ERR-5", MUST,
       "an update with metadata nested 950 deep is stored, then every read of it is a 500",
       classes=frozenset({"ACCOUNTS"}), **deep_update_breaks_reads())


# --- the soft delete (ACC-14 to ACC-17) ------------------------------------------------------


class DeletedStayListed(Store):
    async def list_accounts(self, organization_id: str, params: ListParams) -> Page:
        return await super().list_accounts_with_deleted(organization_id, params)


class TotalCountsDeleted(Store):
    async def list_accounts(self, organization_id: str, params: ListParams) -> Page:
        page = await super().list_accounts(organization_id, params)
        every = await super().list_accounts_with_deleted(organization_id, params)
        return Page(total=every.total, results=page.results)


class DeletedReadable(Store):
    """GET of a deleted id still answers the account."""

    async def get_account(self, organization_id: str, account_id: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            for doc_id in self._accounts.by_id.ids(account_id):
                doc = self._doc(TABLE, doc_id)
                if doc is not None and doc.get("organization_id") == organization_id:
                    return self._shown(doc)
            return None

        return await self._run(read)


class DeletedTotalLeftOut(Store):
    async def list_accounts_with_deleted(self, organization_id: str, params: ListParams
                                         ) -> Page:
        page = await super().list_accounts_with_deleted(organization_id, params)
        live = await super().list_accounts(organization_id, params)
        return Page(total=live.total, results=page.results)


@web.middleware
async def deleted_200(request: web.Request, handler: Handler) -> web.StreamResponse:
    account_id = one_account(request, "DELETE")
    response = await handler(request)
    if account_id is not None and response.status == 204:
        return web.json_response({"deleted": True, "id": account_id}, status=200)
    return response


def local_deleted_at(body: Any) -> Any:
    def fix(item: Any) -> Any:
        if isinstance(item, dict) and isinstance(item.get("deleted_at"), str):
            return {**item, "deleted_at": item["deleted_at"].replace("Z", "+02:00")}
        return item

    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return {**body, "results": [fix(i) for i in body["results"]]}
    return fix(body)


def lets_anyone_see_deleted(statements: Any, action: str, resource: str) -> bool:
    return action == ACTION_LIST_DELETED_ACCOUNTS or is_allowed(statements, action, resource)


mutant("delete_leaves_it_listed", "ACC-14", MUST,
       "a deleted account stays in the default list", store=DeletedStayListed)
mutant("delete_keeps_the_total", "ACC-14", MUST,
       "the default list's total still counts deleted accounts", store=TotalCountsDeleted)
mutant("delete_answers_200", "ACC-14", SHOULD, "DELETE answers 200 with a body, not 204",
       watch=("ACC-14", "ACC-16", "ACC-17", "ACC-21"), **middleware(deleted_200))
mutant("deleted_still_readable", "ACC-15", SHOULD, "GET of a deleted id answers the account",
       watch=("ACC-14", "ACC-16", "ACC-17"), store=DeletedReadable)
mutant("include_deleted_ignored", "ACC-16", MUST, "include_deleted=true shows no deleted account",
       **middleware(rewrite_request(lambda r: "include_deleted" in r.query,
                                    lambda r: with_query(r, include_deleted=None))))
mutant("include_deleted_total_live", "ACC-16", MUST,
       "with include_deleted=true the total leaves the deleted accounts out",
       store=DeletedTotalLeftOut)
mutant("deleted_at_local_time", "ACC-16", SHOULD, "deleted_at carries a +02:00 offset",
       watch=("ACC-14", "ACC-16", "ACC-17"),
       **middleware(rewrite_json(lambda r, resp: r.path.startswith("/accounts"),
                                 local_deleted_at)))
mutant("include_deleted_for_limited", "ACC-17", MUST,
       "a user who is no administrator sees deleted accounts", authorize=lets_anyone_see_deleted)


# --- the default account (ACC-18 to ACC-21, ERR-6) -------------------------------------------

RACE_GAP = 0.3  # the gap between reading the defaults and writing, widened


class RacyDefaults(Store):
    """Reads who is the default, then writes later without reading again: concurrent
    make-default requests each demote only the default they saw."""

    async def update_account(self, organization_id: str, account_id: str,
                             changes: Mapping[str, Any]) -> AccountWrite:
        if changes.get("is_default") is not True:
            return await super().update_account(organization_id, account_id, changes)
        seen = await self._run(lambda: list(self._accounts.defaults.ids(organization_id)))
        await asyncio.sleep(RACE_GAP)
        return await self._run(self._racy_write, organization_id, account_id, dict(changes),
                               seen)

    def _racy_write(self, organization_id: str, account_id: str, changes: dict[str, Any],
                    seen: list[int]) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        if doc_id is None:
            return AccountWrite("absent")
        now = isoformat(self.now())
        demoted = [i for i in seen if i != doc_id]
        if demoted:
            self._table(TABLE).update({"is_default": False, "updated_at": now}, doc_ids=demoted)
        self._table(TABLE).update({**changes, "updated_at": now}, doc_ids=[doc_id])
        return AccountWrite("ok", self._shown(self._doc(TABLE, doc_id) or {}))


class NeverDemotes(Store):
    def _demote_defaults(self, organization_id: str, now: str, keep: int | None = None) -> None:
        return None


class CreateIgnoresDefault(Store):
    async def create_account(self, organization_id: str, name: str, is_default: bool = False,
                             metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await super().create_account(organization_id, name, False, metadata)


class DemotesLate(Store):
    """Sets the new default at once and demotes the others later: concurrent requests demote
    each other, and no default is left."""

    async def update_account(self, organization_id: str, account_id: str,
                             changes: Mapping[str, Any]) -> AccountWrite:
        if changes.get("is_default") is not True:
            return await super().update_account(organization_id, account_id, changes)
        result = await self._run(self._set_alone, organization_id, account_id, dict(changes))
        if result.status != "ok":
            return result
        await asyncio.sleep(RACE_GAP)
        await self._run(self._demote_others, organization_id, account_id)
        return result

    def _set_alone(self, organization_id: str, account_id: str, changes: dict[str, Any]
                   ) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        if doc_id is None:
            return AccountWrite("absent")
        self._table(TABLE).update({**changes, "updated_at": isoformat(self.now())},
                                  doc_ids=[doc_id])
        return AccountWrite("ok", self._shown(self._doc(TABLE, doc_id) or {}))

    def _demote_others(self, organization_id: str, account_id: str) -> None:
        keep = self.find_account(organization_id, account_id)
        self._demote_defaults(organization_id, isoformat(self.now()), keep=keep)


class UnsetAccepted(Store):
    def _update_account_sync(self, organization_id: str, account_id: str,
                             changes: dict[str, Any]) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        doc = self._doc(TABLE, doc_id)
        if doc is None or doc_id is None:
            return AccountWrite("absent")
        fields = {k: v for k, v in changes.items() if doc.get(k) != v}
        if fields.get("is_default") is True:
            self._demote_defaults(organization_id, self._stamp(doc), keep=doc_id)
        if fields:
            self._table(TABLE).update({**fields, "updated_at": self._stamp(doc)},
                                      doc_ids=[doc_id])
        return AccountWrite("ok", self._shown(self._doc(TABLE, doc_id) or doc))


class RefusedUnsetRenames(Store):
    def _update_account_sync(self, organization_id: str, account_id: str,
                             changes: dict[str, Any]) -> AccountWrite:
        result = super()._update_account_sync(organization_id, account_id, changes)
        if result.status == "conflict" and "name" in changes:
            super()._update_account_sync(organization_id, account_id,
                                         {"name": changes["name"]})
        return result


class DefaultDeletable(Store):
    def _delete_account_sync(self, organization_id: str, account_id: str) -> AccountWrite:
        doc_id = self.find_account(organization_id, account_id)
        doc = self._doc(TABLE, doc_id)
        if doc is None or doc_id is None:
            return AccountWrite("absent")
        now = self._stamp(doc)
        self._table(TABLE).update({"deleted_at": now, "updated_at": now}, doc_ids=[doc_id])
        return AccountWrite("ok", self._shown(self._doc(TABLE, doc_id) or doc))


class DefaultDeleteCrashes(Store):
    def _delete_account_sync(self, organization_id: str, account_id: str) -> AccountWrite:
        result = super()._delete_account_sync(organization_id, account_id)
        if result.status == "conflict":
            raise RuntimeError("cannot delete the default account")
        return result


class RefusedDeleteDeletes(Store):
    def _delete_account_sync(self, organization_id: str, account_id: str) -> AccountWrite:
        result = super()._delete_account_sync(organization_id, account_id)
        if result.status == "conflict":
            DefaultDeletable._delete_account_sync(self, organization_id, account_id)
        return result


def conflict_code(body: Any) -> Any:
    return {**body, "error": "DefaultAccountConflict"} if isinstance(body, dict) else body


DEFAULT_MUSTS = ("ACC-18", "ACC-19", "ACC-20", "ACC-21")

mutant("racy_make_default", "ACC-18", MUST,
       "concurrent make-default requests each demote only the default they read",
       store=RacyDefaults)
mutant("default_never_demoted", "ACC-19", MUST, "a new default leaves the former one default",
       store=NeverDemotes)
mutant("create_ignores_is_default", "ACC-2", MUST, "a create with is_default true stores false",
       store=CreateIgnoresDefault)
mutant("concurrent_defaults_demote_each_other", "ACC-19", SHOULD,
       "concurrent make-default requests leave no default", watch=DEFAULT_MUSTS,
       store=DemotesLate)
mutant("unset_default_accepted", "ACC-20", SHOULD,
       "is_default false on the default is accepted, leaving none", watch=DEFAULT_MUSTS,
       store=UnsetAccepted)
mutant("refused_unset_still_renames", "ACC-20", MUST,
       "a PUT refused with 409 for the unset still stores the new name",
       store=RefusedUnsetRenames)
mutant("default_deletable", "ACC-21", SHOULD, "the default is deleted, leaving none",
       watch=DEFAULT_MUSTS, store=DefaultDeletable)
mutant("default_delete_crashes", "ACC-21", MUST, "deleting the default is a 500",
       store=DefaultDeleteCrashes)
mutant("refused_delete_deletes", "ACC-21", MUST, "a delete refused with 409 deletes anyway",
       store=RefusedDeleteDeletes)
mutant("conflict_named_otherwise", "ERR-6", SHOULD,
       'the 409 says "DefaultAccountConflict", not "Conflict"', watch=DEFAULT_MUSTS,
       **middleware(rewrite_json(lambda r, resp: resp.status == 409, conflict_code)))
