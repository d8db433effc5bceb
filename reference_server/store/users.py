"""Organizations, their users and the accounts each user is a member of: documents, indexes,
queries.

A user record holds its password hash; nothing here hands one out except `find_login_user`,
which the login needs to verify a password. A membership is one document {account_id, user_id,
organization_id}; `GET /users?account_id=X` lists the members of X, and only when X is a live
account of the caller's organization (otherwise nobody: the same empty page for a foreign, a
deleted and a never-existing id).
"""

from __future__ import annotations

from typing import Any

from ..pagination import ListParams, Page
from .core import StoreCore, isoformat
from .durable import Database, clone
from .indexes import KeyIndex, Listing, sort_key

TABLE = "users"
ORGANIZATIONS = "organizations"
MEMBERSHIPS = "memberships"
USER_FIELDS = (
    "id",
    "email",
    "organization_id",
    "is_active",
    "is_verified",
    "mfa_enabled",
    "metadata",
    "last_login_at",
    "created_at",
    "updated_at",
)
USER_ORDER_FIELDS = frozenset({"created_at", "updated_at", "email"})


class UserIndexes:
    """What organizations and users are looked up by; each index hears every change."""

    def __init__(self, db: Database) -> None:
        self.orgs_by_slug = KeyIndex(lambda d: d.get("slug"))
        self.by_id = KeyIndex(lambda d: d.get("id"))
        self.by_login = KeyIndex(lambda d: (d.get("organization_id"), d.get("email")))
        self.listing = Listing(TABLE, sorted(USER_ORDER_FIELDS))
        self.members = KeyIndex(lambda d: d.get("account_id"))
        db.durable.listen(MEMBERSHIPS, self.members.change)
        db.durable.listen(ORGANIZATIONS, self.orgs_by_slug.change)
        db.durable.listen(TABLE, self.by_id.change)
        db.durable.listen(TABLE, self.by_login.change)
        db.durable.listen(TABLE, self.listing.change)


class UserQueries(StoreCore):
    """The organization and user half of the `Store`."""

    #: what a list shows of a user (a seam for test variants)
    user_fields: tuple[str, ...] = USER_FIELDS

    @property
    def _users(self) -> UserIndexes:
        return self._index(UserIndexes)

    async def find_login_user(self, organization_slug: str, email: str) -> dict[str, Any] | None:
        """The user record (with its password hash) for a login attempt, or None."""
        return await self._read(self._find_login_user_sync, organization_slug, email)

    def _find_login_user_sync(self, organization_slug: str, email: str) -> dict[str, Any] | None:
        slug = organization_slug.lower()
        org = self._doc(ORGANIZATIONS, self._users.orgs_by_slug.first(slug))
        if org is None:
            return None
        login = (org.get("id"), email.lower())
        user = self._doc(TABLE, self._users.by_login.first(login))
        return None if user is None else clone(user)

    async def get_active_user(self, user_id: str, organization_id: str) -> dict[str, Any] | None:
        """The user `user_id` if it exists in `organization_id` and is active."""
        return await self._read(self._get_active_user_sync, user_id, organization_id)

    def _get_active_user_sync(self, user_id: str, organization_id: str) -> dict[str, Any] | None:
        for doc_id in self._users.by_id.ids(user_id):
            user = self._doc(TABLE, doc_id)
            if user is not None and user.get("organization_id") == organization_id:
                if user.get("is_active") is not True:
                    return None
                out = clone(user)
                out.pop("password_hash", None)
                return out
        return None

    async def record_login(self, user_id: str, new_password_hash: str | None = None) -> None:
        """Set `last_login_at` (and store a rehashed password) after a successful login."""
        await self._run(self._record_login_sync, user_id, new_password_hash)

    def _record_login_sync(self, user_id: str, new_password_hash: str | None) -> None:
        fields: dict[str, Any] = {"last_login_at": isoformat(self.now())}
        if new_password_hash:
            fields["password_hash"] = new_password_hash
        self._table(TABLE).update(fields, doc_ids=self._users.by_id.ids(user_id))

    async def list_users(self, organization_id: str, params: ListParams) -> Page:
        """One page of the organization's users (public fields only)."""
        return await self._read(
            self._list_sync, TABLE, self._users.listing, organization_id, params,
            self.user_fields,
        )

    async def list_members(
        self, organization_id: str, account_id: str, params: ListParams
    ) -> Page:
        """One page of the users who are members of `account_id`, a live account of
        `organization_id`; for any other id, an empty list (public fields only).

        The members of one account are few next to the organization: they are sorted per
        request, so the cost grows with the account's members, never with the accounts.
        """
        return await self._read(self._members_sync, organization_id, account_id, params)

    def _members_sync(self, organization_id: str, account_id: str, params: ListParams) -> Page:
        if not self._account_is_live_sync(organization_id, account_id):
            return Page(total=0, results=[])
        users: dict[int, dict[str, Any]] = {}
        for membership_id in self._users.members.ids(account_id):
            membership = self._doc(MEMBERSHIPS, membership_id) or {}
            for doc_id in self._users.by_id.ids(membership.get("user_id")):
                user = self._doc(TABLE, doc_id)
                if user is not None and user.get("organization_id") == organization_id:
                    users[doc_id] = user
        ordered = sorted(users, key=lambda i: (sort_key(users[i].get(params.order_field)), i))
        if params.descending:
            ordered.reverse()
        chosen = ordered[params.offset:params.offset + params.quantity]
        return Page(total=len(ordered),
                    results=[{f: clone(users[i].get(f)) for f in self.user_fields}
                             for i in chosen])

    def _account_is_live_sync(self, organization_id: str, account_id: str) -> bool:
        """Whether `account_id` is a live account of the organization (the accounts' part)."""
        raise NotImplementedError

    async def get_user(self, organization_id: str, user_id: str) -> dict[str, Any] | None:
        """The user `user_id` of `organization_id` (public fields), else None."""
        return await self._read(self._get_user_sync, organization_id, user_id)

    def _get_user_sync(self, organization_id: str, user_id: str) -> dict[str, Any] | None:
        for doc_id in self._users.by_id.ids(user_id):
            user = self._doc(TABLE, doc_id)
            if user is not None and user.get("organization_id") == organization_id:
                return {f: clone(user.get(f)) for f in self.user_fields}
        return None
