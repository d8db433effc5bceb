"""The pure IAM-style policy evaluation of the reference server."""

from __future__ import annotations

from reference_server.policy import is_allowed

RES = "dpaas:org/o1/accounts"


def test_default_deny() -> None:
    assert not is_allowed([], "accounts:ListAccounts", RES)
    other = [{"Effect": "Allow", "Action": ["users:ListUsers"], "Resource": ["*"]}]
    assert not is_allowed(other, "accounts:ListAccounts", RES)


def test_allow_and_wildcards() -> None:
    admin = [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]
    assert is_allowed(admin, "accounts:CreateAccount", RES)
    service = [{"Effect": "Allow", "Action": "accounts:*", "Resource": "dpaas:org/o1/*"}]
    assert is_allowed(service, "accounts:ListAccounts", RES)
    assert not is_allowed(service, "users:ListUsers", "dpaas:org/o1/users")
    assert not is_allowed(service, "accounts:ListAccounts", "dpaas:org/o2/accounts")


def test_explicit_deny_wins_in_any_order() -> None:
    allow = {"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}
    deny = {"Effect": "Deny", "Action": ["accounts:CreateAccount"], "Resource": ["*"]}
    assert not is_allowed([allow, deny], "accounts:CreateAccount", RES)
    assert not is_allowed([deny, allow], "accounts:CreateAccount", RES)
    assert is_allowed([deny, allow], "accounts:ListAccounts", RES)


def test_matching_is_case_sensitive_and_malformed_statements_ignored() -> None:
    lower = [{"Effect": "Allow", "Action": ["accounts:listaccounts"], "Resource": ["*"]}]
    assert not is_allowed(lower, "accounts:ListAccounts", RES)
    junk = [
        "not a statement",
        {"Effect": "allow", "Action": ["*"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": ["*"]},
        {"Effect": "Allow", "Action": 5, "Resource": ["*"]},
    ]
    assert not is_allowed(junk, "accounts:ListAccounts", RES)  # type: ignore[arg-type]
