"""Replay: the curl commands under a failure reproduce its requests, and never show a secret.

Bash itself is the judge of the quoting: each command runs with `curl` replaced by a shell
function that writes back the arguments and the standard input it got, so every byte of the URL,
the headers and the body is compared with what the suite sent. One test runs the real curl
against the tiny target and gets the failing answer again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import httpx
import pytest
from dpaas_conformance.library import replay
from dpaas_conformance.library.client import Exchange
from dpaas_conformance.library.target import Principal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tiny_project import LISTS, LOGIN_MUST, Project
from tests.tiny_target import EMAIL, ORG, PASSWORD, Behaviour

BASE = "http://127.0.0.1:8000"
ADMIN = Principal("admin", "user@example.com", "s3cret 'pass\" $word`\\", "myorg")
# Writes its argument count, each argument (NUL-ended) and its standard input, calling nothing.
FAKE_CURL = 'curl() { printf "%s\\0" "$#" "$@"; cat; }\n'


def exchange(method: str, path: str, *, answer: Any = None, status: int = 200,
             **kwargs: Any) -> Exchange:
    request = httpx.Request(method, BASE + path, **kwargs)
    response = httpx.Response(status, json=answer, request=request)
    return Exchange(request, response)


def as_bash_runs_it(command: str, **env: str) -> tuple[list[bytes], bytes]:
    """curl's arguments and standard input, as bash hands them over for this command."""
    out = subprocess.run(["bash", "-c", FAKE_CURL + command], capture_output=True, check=True,
                         env={"PATH": os.environ["PATH"], **env}, timeout=10).stdout
    count, rest = out.split(b"\0", 1)
    *args, stdin = rest.split(b"\0", int(count))
    return args, stdin


def sent_body(args: list[bytes], stdin: bytes) -> bytes:
    if b"--data-raw" in args:
        return args[args.index(b"--data-raw") + 1]
    assert args[args.index(b"--data-binary") + 1] == b"@-"
    return stdin


def headers_of(args: list[bytes]) -> list[bytes]:
    return [args[i + 1] for i, a in enumerate(args) if a == b"-H"]


# --- what the commands hold --------------------------------------------------------------------


def test_passwords_and_issued_tokens_become_variables_with_a_note_each() -> None:
    login = exchange("POST", "/authentication/login", json=ADMIN.credentials(),
                     answer={"access_token": "eyJ.access.one", "refresh_token": "r-one"})
    bearer = {"Authorization": "Bearer eyJ.access.one"}
    later = [exchange("GET", f"/accounts?page={n}", headers=bearer) for n in range(1, 4)]
    refresh = exchange("POST", "/authentication/refresh", json={"refresh_token": "r-one"},
                       answer={"access_token": "eyJ.access.two", "refresh_token": "r-two"})
    result = replay.build([login, *later, refresh], [ADMIN], "dpaas.toml", last=2)
    text = result.render()
    for secret in (ADMIN.password, "eyJ.access.one", "r-one", "eyJ.access.two"):
        assert secret not in text
    # The login is shown although it is older than the last two: its answer fills ACCESS_TOKEN.
    assert [c.number for c in result.commands] == [1, 4, 5]
    assert "# (2 other requests of the scenario are not shown)" in text
    assert {s.variable for s in result.secrets} == {"ADMIN_PASSWORD", "ACCESS_TOKEN",
                                                     "REFRESH_TOKEN"}
    notes = result.to_json()["variables"]
    assert notes["ADMIN_PASSWORD"].startswith(
        "the admin principal's password (user@example.com in myorg), from dpaas.toml")
    assert "JSON-escaped" in notes["ADMIN_PASSWORD"]  # it holds a quote and a backslash
    assert notes["ACCESS_TOKEN"] == '"access_token" in the answer to command 1 (run it and copy ' \
        "the value)"
    assert '"Authorization: Bearer $ACCESS_TOKEN"' in result.commands[1].text


def test_a_value_counts_as_secret_only_where_it_stands_whole() -> None:
    short = Principal("admin", "a@b.example", "example", "example-org")
    login = exchange("POST", "/authentication/login", json=short.credentials())
    [command] = replay.build([login], [short], "dpaas.toml").commands
    args, stdin = as_bash_runs_it(command.text, ADMIN_PASSWORD="example")
    assert json.loads(sent_body(args, stdin)) == short.credentials()
    assert "a@b.example" in command.text and "example-org" in command.text


def test_forged_tokens_are_shown_as_sent() -> None:
    """A token the suite made up is test input, not the target's secret."""
    none = "Bearer eyJhbGciOiJub25lIn0.e30."  # {"alg":"none"}, no claims, no signature
    forged = exchange("GET", "/accounts", headers={"Authorization": none})
    [command] = replay.build([forged], [ADMIN], "dpaas.toml").commands
    args, _ = as_bash_runs_it(command.text)
    assert headers_of(args) == [f"Authorization: {none}".encode()]


@pytest.mark.parametrize("body", [
    b"",
    b'{"name": "it\'s $HOME `id` \\"quoted\\" \\\\ 100% \\n"}',
    "{\"name\": \"Zoë \u2013 日本 \U0001F600\"}".encode(),
    b'{"name": "\xff\xfe not UTF-8 \x00 with a NUL"}',
    b"[" * 1000 + b"]" * 1000,
    b'{"name": "' + b"x" * (8 * 1024 * 1024) + b'"}',
    '{"name": "line\u2028separator and zero\u200bwidth"}'.encode(),
], ids=["empty", "shell-specials", "unicode", "binary", "deep", "8MiB", "invisible"])
def test_bash_hands_curl_the_exact_request(body: bytes) -> None:
    sent = exchange("POST", "/accounts?page=1&q=a%20b", content=body,
                    headers={"Content-Type": "application/json", "X-Odd": "it's \"odd\""})
    [command] = replay.build([sent], [ADMIN], "dpaas.toml").commands
    assert len(command.text) < 10_000  # even 8 MiB stays a command one can paste
    args, stdin = as_bash_runs_it(command.text)
    assert args[:3] == [b"-sS", b"-i", b"-X"] and args[3] == b"POST"
    assert args[4] == f"{BASE}/accounts?page=1&q=a%20b".encode()
    assert headers_of(args) == [b"Content-Type: application/json", b"X-Odd: it's \"odd\""]
    assert sent_body(args, stdin) == body


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(password=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"),
                        min_size=1, max_size=30),
       extra=st.binary(max_size=300))
def test_any_password_and_body_round_trip_through_bash(password: str, extra: bytes) -> None:
    principal = Principal("admin", "user@example.com", password, "myorg")
    credentials = principal.credentials()
    body = json.dumps({**credentials, "x": extra.hex()}, ensure_ascii=False).encode() + extra
    sent = exchange("POST", "/authentication/login", content=body,
                    headers={"Content-Type": "application/json"})
    [command] = replay.build([sent], [principal], "dpaas.toml").commands
    assert "$ADMIN_PASSWORD" in command.text
    filled = json.dumps(password, ensure_ascii=False)[1:-1]  # as the note says
    args, stdin = as_bash_runs_it(command.text, ADMIN_PASSWORD=filled)
    assert sent_body(args, stdin) == body


# --- under a failing scenario ------------------------------------------------------------------


def test_a_failing_scenario_prints_its_replay_and_the_report_holds_it(
    project: Project, behaviour: Behaviour
) -> None:
    behaviour.infinity_in_list = True
    result = project.run(LISTS, LOGIN_MUST)
    assert result.ret == 1
    out = result.stdout.str()
    section = out.split("Replay: the requests as curl commands")[1].split("=====")[0]
    assert f"#   ADMIN_PASSWORD: the admin principal's password ({EMAIL} in {ORG}), from " \
        "dpaas.toml" in section
    assert '#   ACCESS_TOKEN: "access_token" in the answer to command 1' in section
    assert f"# 1. POST /authentication/login, answered 200\ncurl -sS -i -X POST " \
        f"{project.url}/authentication/login" in section
    assert f"# 2. GET /accounts, answered 200\ncurl -sS -i {project.url}/accounts -H " \
        '"Authorization: Bearer $ACCESS_TOKEN"' in section
    assert PASSWORD not in out
    [row] = [r for r in project.report()["scenarios"] if r["outcome"] == "must failed"]
    commands = row["replay"]["commands"]
    assert [c["command"] for c in commands] == [
        line for line in section.splitlines() if line.startswith("curl ")]
    assert set(row["replay"]["variables"]) == {"ADMIN_PASSWORD", "ACCESS_TOKEN"}
    passed = [r for r in project.report()["scenarios"] if r["outcome"] == "must passed"]
    assert [r["replay"] for r in passed] == [None]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_pasting_the_replay_reproduces_the_failure(project: Project, behaviour: Behaviour) -> None:
    """The commands from the report, run by bash and curl with the variables filled as the
    notes say, get the failing answer (a list with Infinity in it) from the target again."""
    behaviour.infinity_in_list = True
    project.run(LISTS)
    [row] = project.report()["scenarios"]
    login, listing = (c["command"] for c in row["replay"]["commands"])
    env = {"PATH": os.environ["PATH"], "ADMIN_PASSWORD": PASSWORD}

    def run(command: str) -> str:
        return subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              check=True, env=env, timeout=20).stdout

    answer = run(login)
    assert answer.startswith("HTTP/1.1 200")
    env["ACCESS_TOKEN"] = json.loads(answer.split("\n\n", 1)[1])["access_token"]  # text mode: \n
    failure = run(listing)
    assert failure.startswith("HTTP/1.1 200")
    assert '{"v": Infinity}' in failure
