"""The public signer (`dpaas_conformance.hmac_auth`) against worked examples derived by hand from
the profile's HMAC section, each signature computed outside Python:

    printf 'GET\\n/accounts\\npage=1&quantity=20\\n2025-09-30T10:00:00Z\\n<nonce>\\n<empty hash>' |
        openssl dgst -sha256 -hmac sk_live_example_secret -binary | base64
"""

from __future__ import annotations

import subprocess
import sys

import httpx
from dpaas_conformance.hmac_auth import (
    EMPTY_BODY_SHA256,
    HmacAuth,
    content_sha256,
    curl_command,
    format_x_date,
    signed_headers,
    string_to_sign,
)

ACCESS, SECRET = "sa_example", "sk_live_example_secret"
DATE = "2025-09-30T10:00:00Z"
GET_NONCE = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
POST_NONCE = "0b7e6f4c-2d1a-4c3b-9e8f-7a6b5c4d3e2f"
#: the profile quotes `e3b0c442...b855`; this is the whole of it
PROFILE_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
STAGING = b'{"name":"Staging"}'
STAGING_SHA256 = "ed66d594cf0bd682819cf40ad662e5bf3ac1ff47721316347dd0665cbc02e471"


def test_the_empty_body_hash_is_the_profiles() -> None:
    assert EMPTY_BODY_SHA256 == PROFILE_EMPTY == content_sha256(b"")
    assert PROFILE_EMPTY.startswith("e3b0c442") and PROFILE_EMPTY.endswith("b855")


def test_a_get_with_a_query_signs_as_the_worked_example() -> None:
    text = string_to_sign("get", "/accounts", "page=1&quantity=20", DATE, GET_NONCE,
                          EMPTY_BODY_SHA256)
    assert text == ("GET\n/accounts\npage=1&quantity=20\n2025-09-30T10:00:00Z\n" + GET_NONCE
                    + "\n" + PROFILE_EMPTY)  # six lines, no final newline
    headers = signed_headers(ACCESS, SECRET, "GET", "/accounts?page=1&quantity=20",
                             x_date=DATE, nonce=GET_NONCE)
    assert headers == {
        "Authorization": "HMAC sa_example:K7ZyjGGYBGznIppMDKSkLGcrFtvC4BWAoNpEIVmKAlw=",
        "x-date": DATE, "x-nonce": GET_NONCE, "x-content-sha256": PROFILE_EMPTY,
    }


def test_a_post_without_a_query_has_an_empty_line_and_the_body_hash() -> None:
    assert content_sha256(STAGING) == STAGING_SHA256
    headers = signed_headers(ACCESS, SECRET, "POST", "/accounts", STAGING, x_date=DATE,
                             nonce=POST_NONCE)
    # standard Base64, padded: this one holds a "/"
    signature = "nPEuexFyYyLZhBbviEjfveL5gk/U3b8j6gEBt2lEIiA="
    assert headers["Authorization"] == f"HMAC sa_example:{signature}"
    assert headers["x-content-sha256"] == STAGING_SHA256


def test_x_date_is_utc_to_the_second() -> None:
    assert format_x_date(1759226400.9) == DATE


def test_httpx_auth_signs_the_bytes_and_the_target_it_sends() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    auth = HmacAuth(ACCESS, SECRET, clock=lambda: 1759226400.0)
    assert SECRET not in repr(auth)
    with httpx.Client(base_url="http://t.test", auth=auth,
                      transport=httpx.MockTransport(handler)) as client:
        client.post("/accounts", content=STAGING, params={"quantity": 2},
                    headers={"Content-Type": "application/json"})
        client.get("/users/a%2Fb")
    post, get = seen
    nonce = post.headers["x-nonce"]
    expected = signed_headers(ACCESS, SECRET, "POST", "/accounts?quantity=2", STAGING,
                              x_date=DATE, nonce=nonce)
    assert {k: post.headers[k] for k in expected} == expected
    # the path as it goes on the wire, escapes and all
    expected = signed_headers(ACCESS, SECRET, "GET", "/users/a%2Fb", x_date=DATE,
                              nonce=get.headers["x-nonce"])
    assert get.headers["authorization"] == expected["Authorization"]
    assert post.headers["x-nonce"] != get.headers["x-nonce"]  # a new nonce for every request


def test_the_module_imports_without_pytest() -> None:
    code = ("import sys; import dpaas_conformance.hmac_auth; "
            "assert 'pytest' not in sys.modules and '_pytest' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_curl_command_carries_the_four_headers() -> None:
    command = curl_command("GET", "http://127.0.0.1:8000/accounts?quantity=1", ACCESS, SECRET)
    assert command.startswith("curl -sS -X GET 'http://127.0.0.1:8000/accounts?quantity=1'")
    for name in ("Authorization: HMAC sa_example:", "x-date: ", "x-nonce: ",
                 f"x-content-sha256: {PROFILE_EMPTY}"):
        assert name in command
