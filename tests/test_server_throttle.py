"""Login throttling (issue 9): guessing is slowed, nobody can lock a real user out.

Clients call from distinct loopback addresses: Linux routes all of 127.0.0.0/8 to the loopback
interface, so a client may bind 127.0.0.2 and another 127.0.0.3.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_server.__main__ import main
from reference_server.app import create_app
from reference_server.clients import ClientAddresses
from reference_server.config import Settings
from reference_server.demo import DEMO_PRINCIPALS
from tests.support import FakeClock, ServedApp
from tests.test_server_api import assert_error

#: argon2 parameters far below the OWASP floor, so a test can fail a hundred logins quickly.
FAST_HASHING: dict[str, Any] = {
    "argon2_memory_cost": 64,
    "argon2_time_cost": 1,
    "allow_weak_password_hashing": True,
}


@contextmanager
def clients(
    tmp_path: Path, clock: FakeClock, *sources: str, **settings: Any
) -> Iterator[list[httpx.Client]]:
    """A server, and one client per source address."""
    config = Settings(data_dir=tmp_path, demo=True, clock=clock, **settings)
    with ServedApp(lambda: create_app(config)) as base, ExitStack() as stack:
        yield [
            stack.enter_context(
                httpx.Client(
                    base_url=base,
                    timeout=10,
                    transport=httpx.HTTPTransport(local_address=source),
                )
            )
            for source in sources
        ]


def credentials(who: str, password: str | None = None, **override: str) -> dict[str, str]:
    p = DEMO_PRINCIPALS[who]
    body = {"email": p.email, "password": p.password, "organization_slug": p.organization_slug}
    if password is not None:
        body["password"] = password
    return {**body, **override}


def log_in(c: httpx.Client, body: dict[str, str], **headers: str) -> httpx.Response:
    return c.post("/authentication/login", json=body, headers=headers)


def unknown_user() -> dict[str, str]:
    return credentials("admin", "guess", email=f"nobody-{secrets.token_hex(6)}@example.com")


def test_guessing_from_one_address_never_locks_the_user_out_elsewhere(tmp_path: Path) -> None:
    clock = FakeClock()
    with clients(tmp_path, clock, "127.0.0.2", "127.0.0.3", **FAST_HASHING) as (attacker, user):
        for _ in range(5):
            assert log_in(attacker, credentials("limited", "guess")).status_code == 401
        r = log_in(attacker, credentials("limited"))
        assert_error(r, 429, "TooManyRequests")
        assert int(r.headers["retry-after"]) == 60
        assert log_in(user, credentials("limited")).status_code == 200, "locked out by another"
        clock.advance(60)
        assert log_in(attacker, credentials("limited")).status_code == 200, "the window passed"


def test_one_address_cannot_spread_guesses_over_many_accounts(tmp_path: Path) -> None:
    clock = FakeClock()
    with clients(
        tmp_path, clock, "127.0.0.2", "127.0.0.3",
        login_address_burst=3, login_address_refill=0.01, **FAST_HASHING,
    ) as (sprayer, other):
        assert log_in(sprayer, credentials("admin")).status_code == 200  # a pair it knows
        for _ in range(3):
            assert log_in(sprayer, unknown_user()).status_code == 401
        r = log_in(sprayer, unknown_user())
        assert_error(r, 429, "TooManyRequests")
        assert int(r.headers["retry-after"]) == 100, "one failure back after 1 / 0.01 s"
        assert log_in(sprayer, credentials("limited")).status_code == 429, "a new account"
        assert log_in(sprayer, credentials("admin")).status_code == 200, "a known account"
        assert log_in(sprayer, credentials("admin", "typo")).status_code == 401
        assert log_in(other, unknown_user()).status_code == 401, "other addresses unaffected"
        clock.advance(100)
        assert log_in(sprayer, unknown_user()).status_code == 401
        assert log_in(sprayer, unknown_user()).status_code == 429


def test_a_suite_run_worth_of_failures_never_stops_valid_logins(tmp_path: Path) -> None:
    """With the default budget: 110 failed logins for made-up users from one address (the
    conformance suite makes about a dozen a run) interleaved with valid logins of the three
    principals. The valid ones all pass; only new accounts from that address are refused."""
    clock = FakeClock()
    with clients(tmp_path, clock, "127.0.0.1", **FAST_HASHING) as (suite,):
        statuses = []
        for i in range(110):
            statuses.append(log_in(suite, unknown_user()).status_code)
            if i % 10 == 0 or i >= 107:  # every login writes to disk: a few are enough
                who = ("admin", "limited", "other")[i % 3]
                assert log_in(suite, credentials(who)).status_code == 200, (i, who)
        assert set(statuses[:100]) == {401}, "a hundred failures fit the default budget"
        assert statuses[-1] == 429, "past the budget, new accounts are refused"


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    clock = FakeClock()
    with clients(
        tmp_path, clock, "127.0.0.2", "127.0.0.3", trusted_proxies=("127.0.0.2",), **FAST_HASHING
    ) as (proxy, direct):
        attacker = {"X-Forwarded-For": "198.51.100.7"}
        for _ in range(5):
            assert log_in(proxy, credentials("limited", "guess"), **attacker).status_code == 401
        assert log_in(proxy, credentials("limited"), **attacker).status_code == 429
        user = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}  # spoofed left part ignored
        assert log_in(proxy, credentials("limited"), **user).status_code == 429
        user = {"X-Forwarded-For": "198.51.100.8"}
        assert log_in(proxy, credentials("limited"), **user).status_code == 200
        for i in range(5):  # a direct client cannot pose as anyone
            spoof = {"X-Forwarded-For": f"192.0.2.{i}"}
            assert log_in(direct, credentials("other", "guess"), **spoof).status_code == 401
        assert log_in(direct, credentials("other"), **{"X-Forwarded-For": "192.0.2.99"}
                      ).status_code == 429


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("127.0.0.1", ["198.51.100.7"], (), "127.0.0.1"),
        ("10.0.0.5", ["198.51.100.7"], ("10.0.0.0/8",), "198.51.100.7"),
        ("10.0.0.5", ["203.0.113.1, 198.51.100.7, 10.0.0.9"], ("10.0.0.0/8",), "198.51.100.7"),
        ("10.0.0.5", ["203.0.113.1", "198.51.100.7"], ("10.0.0.0/8",), "198.51.100.7"),
        ("10.0.0.5", ["junk, 10.0.0.9"], ("10.0.0.0/8",), "10.0.0.9"),
        ("10.0.0.5", [], ("10.0.0.0/8",), "10.0.0.5"),
        ("10.0.0.5", ["2001:db8:1:2:3:4:5:6"], ("10.0.0.5",), "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", [], (), "198.51.100.7"),
        (None, [], (), "unknown"),
    ],
)
def test_client_address_resolution(
    peer: str | None, forwarded: list[str], trusted: tuple[str, ...], client: str
) -> None:
    assert ClientAddresses(trusted).resolve(peer, forwarded) == client


def test_a_bad_trusted_proxy_is_a_one_line_refusal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data-dir", str(tmp_path), "--trusted-proxy", "not-an-address"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trusted proxy" in err
