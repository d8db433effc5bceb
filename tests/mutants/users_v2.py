"""Broken variants for the USERS class (profile v2): users by account, last logins, the users'
field types and `GET /users/{id}`."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from reference_server.authentication import authenticate
from reference_server.errors import Forbidden
from reference_server.pagination import ListParams, Page
from reference_server.state import STORE
from reference_server.store import Store
from reference_server.store.accounts import TABLE as ACCOUNTS
from reference_server.store.users import MEMBERSHIPS, TABLE
from tests.mutants import MUST, SHOULD, HarnessVariant
from tests.mutants.accounts_v2 import middleware, register
from tests.mutants.rewrite import rewrite_json, rewrite_request, with_query

MUTANTS_V2: list[HarnessVariant] = []
mutant = register(MUTANTS_V2)


def is_users(request: web.Request, *_: Any) -> bool:
    return request.method == "GET" and request.path.startswith("/users")


class MembersTotalUnfiltered(Store):
    async def list_members(self, organization_id: str, account_id: str, params: ListParams
                           ) -> Page:
        page = await super().list_members(organization_id, account_id, params)
        everyone = await super().list_users(organization_id, params)
        return Page(total=everyone.total, results=page.results)


class MembersOfAnyAccount(Store):
    """Lists the members of any account, whatever its organization."""

    def _members_sync(self, organization_id: str, account_id: str, params: ListParams) -> Page:
        users = []
        for membership_id in self._users.members.ids(account_id):
            membership = self._doc(MEMBERSHIPS, membership_id) or {}
            for doc_id in self._users.by_id.ids(membership.get("user_id")):
                user = self._doc(TABLE, doc_id)
                if user is not None:
                    users.append({f: user.get(f) for f in self.user_fields})
        return Page(total=len(users), results=users[params.offset:params.offset + params.quantity])


class EveryoneUnderFilter(Store):
    """With account_id, every organization's users: the filter and the tenant both dropped."""

    async def list_members(self, organization_id: str, account_id: str, params: ListParams
                           ) -> Page:
        def everyone() -> Page:
            rows = self._users.listing.all_rows()
            docs = [self._doc(TABLE, i) or {} for i in rows.page(params)]
            return Page(total=rows.total,
                        results=[{f: d.get(f) for f in self.user_fields} for d in docs])

        return await self._run(everyone)


class LoginNotRecorded(Store):
    async def record_login(self, user_id: str, new_password_hash: str | None = None) -> None:
        return None


class AnyUserById(Store):
    async def get_user(self, organization_id: str, user_id: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            for doc_id in self._users.by_id.ids(user_id):
                user = self._doc(TABLE, doc_id)
                if user is not None:
                    return {f: user.get(f) for f in self.user_fields}
            return None

        return await self._run(read)


@web.middleware
async def foreign_account_forbidden(request: web.Request, handler: Handler
                                    ) -> web.StreamResponse:
    """Tells another organization's account from a missing one: 403 for the foreign one."""
    account_id = request.query.get("account_id") if request.path == "/users" else None
    if account_id:
        identity = await authenticate(request)
        store = request.app[STORE]

        def owner() -> Any:
            for doc_id in store._accounts.by_id.ids(account_id):
                doc = store._doc(ACCOUNTS, doc_id)
                if doc is not None:
                    return doc.get("organization_id")
            return None

        found = await store._run(owner)
        if found is not None and found != identity.organization_id:
            raise Forbidden("This account belongs to another organization")
    return await handler(request)


def mfa_as_text(body: Any) -> Any:
    def fix(user: Any) -> Any:
        if isinstance(user, dict) and isinstance(user.get("mfa_enabled"), bool):
            return {**user, "mfa_enabled": str(user["mfa_enabled"]).lower()}
        return user

    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return {**body, "results": [fix(u) for u in body["results"]]}
    return fix(body)


mutant("account_id_ignored", "USER-4", MUST, "account_id is ignored: every user is listed",
       **middleware(rewrite_request(lambda r: r.path == "/users" and "account_id" in r.query,
                                    lambda r: with_query(r, account_id=None))))
mutant("members_total_unfiltered", "USER-4", MUST,
       "filtered by account, the total still counts every user", store=MembersTotalUnfiltered)
mutant("foreign_account_members_listed", "USER-5", MUST,
       "another organization's account_id lists that organization's users",
       store=MembersOfAnyAccount)
mutant("foreign_account_id_403", "USER-5", SHOULD,
       "another organization's account_id gets 403, a missing one an empty list",
       watch=("USER-4", "USER-5", "USER-8"), **middleware(foreign_account_forbidden))
mutant("last_login_never_set", "USER-6", MUST, "last_login_at stays null after a login",
       store=LoginNotRecorded)
mutant("mfa_enabled_as_text", "USER-7", SHOULD, 'mfa_enabled reads "false", a string',
       **middleware(rewrite_json(lambda r, resp: is_users(r) and resp.status == 200,
                                 mfa_as_text)))
mutant("filtered_users_of_every_organization", "USER-8", MUST,
       "filtered by account, every organization's users are listed", store=EveryoneUnderFilter)
mutant("users_by_id_of_any_organization", "USER-9", MUST,
       "GET /users/{id} reads another organization's user", store=AnyUserById)
