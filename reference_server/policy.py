"""IAM-style policy evaluation: an explicit Deny wins, then an Allow, else deny.

A pure function with no I/O so it can be tested (and swapped in `Components`) on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

ACTION_LIST_ACCOUNTS = "accounts:ListAccounts"
ACTION_CREATE_ACCOUNT = "accounts:CreateAccount"
ACTION_GET_ACCOUNT = "accounts:GetAccount"
ACTION_UPDATE_ACCOUNT = "accounts:UpdateAccount"
ACTION_DELETE_ACCOUNT = "accounts:DeleteAccount"
#: seeing deleted accounts (`include_deleted=true`): what makes an *administrator* (R)
ACTION_LIST_DELETED_ACCOUNTS = "accounts:ListDeletedAccounts"
ACTION_LIST_USERS = "users:ListUsers"
ACTION_GET_USER = "users:GetUser"
ACTION_LIST_SERVICE_ACCOUNTS = "service-accounts:ListServiceAccounts"
ACTION_CREATE_SERVICE_ACCOUNT = "service-accounts:CreateServiceAccount"
ACTION_GET_SERVICE_ACCOUNT = "service-accounts:GetServiceAccount"
ACTION_UPDATE_SERVICE_ACCOUNT = "service-accounts:UpdateServiceAccount"
ACTION_DELETE_SERVICE_ACCOUNT = "service-accounts:DeleteServiceAccount"
ACTION_LIST_KEYS = "service-accounts:ListKeys"
ACTION_ISSUE_KEY = "service-accounts:IssueKey"
ACTION_REVOKE_KEY = "service-accounts:RevokeKey"


def accounts_resource(organization_id: str) -> str:
    return f"dpaas:org/{organization_id}/accounts"


def account_resource(account_id: str) -> Callable[[str], str]:
    """One account of the caller's organization: the policy is checked before the account is
    looked up, so a refusal never tells whether the id exists."""
    return lambda organization_id: f"{accounts_resource(organization_id)}/{account_id}"


def users_resource(organization_id: str) -> str:
    return f"dpaas:org/{organization_id}/users"


def service_accounts_resource(organization_id: str) -> str:
    return f"dpaas:org/{organization_id}/service-accounts"


def service_account_resource(service_account_id: str) -> Callable[[str], str]:
    """One service account (and its keys): checked before the lookup, as for accounts."""
    return lambda organization_id: (
        f"{service_accounts_resource(organization_id)}/{service_account_id}")


def _patterns(value: Any) -> list[str]:
    """A statement's Action/Resource may be one string or a list of strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        return [v for v in value if isinstance(v, str)]
    return []


def _matches(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    return any(fnmatchcase(action, p) for p in _patterns(statement.get("Action"))) and any(
        fnmatchcase(resource, p) for p in _patterns(statement.get("Resource"))
    )


def is_allowed(statements: Sequence[Mapping[str, Any]], action: str, resource: str) -> bool:
    """Whether `statements` allow `action` on `resource` (default deny, Deny overrides)."""
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping) or not _matches(statement, action, resource):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed
