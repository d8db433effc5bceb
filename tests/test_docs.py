"""`GET /docs` and `GET /`: over HTTP, then in a real headless Chromium."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dpaas_conformance.library.embedded import ServedApp

from reference_server.app import create_app
from reference_server.config import Settings
from reference_server.headers import API_CSP
from reference_server.routes.docs import DOCS_CSP, INDEX, prefers_html
from tests.chromium import Chromium, find_chromium

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("docs"), demo=True)
    with ServedApp(lambda: create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def client(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=10) as c:
        yield c


# ---------------------------------------------------------------- over HTTP


def test_docs_page_has_its_own_csp_and_the_api_keeps_none(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == DOCS_CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for path in ("/openapi.json", "/", "/docs/init.js", "/docs/assets/swagger-ui-bundle.js"):
        assert client.get(path).headers["content-security-policy"] == API_CSP, path


def test_only_the_assets_the_page_loads_are_served(client: httpx.Client) -> None:
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"):
        r = client.get(f"/docs/assets/{asset}")
        assert r.status_code == 200 and r.content, asset
        assert r.headers["x-content-type-options"] == "nosniff"
    for other in ("index.html", "swagger-initializer.js", "..%2F..%2Fconfig.py", "nope.js"):
        r = client.get(f"/docs/assets/{other}")
        assert r.status_code == 404 and r.json()["error"] == "NotFound", other


def test_a_browser_is_sent_to_the_docs(client: httpx.Client) -> None:
    r = client.get("/", headers={"Accept": BROWSER_ACCEPT})
    assert r.status_code == 302 and r.headers["location"] == "/docs"
    assert "Accept" in r.headers["vary"]
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "text/html;q=0.5, */*"])
def test_an_api_client_gets_an_index_of_links(client: httpx.Client, accept: str | None) -> None:
    request = client.build_request("GET", "/")
    if accept is None:
        del request.headers["accept"]
    else:
        request.headers["accept"] = accept
    r = client.send(request)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    index = r.json()
    assert index == INDEX
    for key in ("docs", "openapi", "jwks"):
        assert client.get(index[key]).status_code == 200, index[key]
    document = client.get(index["openapi"]).json()
    for endpoint in index["endpoints"].values():
        method, path = endpoint.split(" ")
        assert method.lower() in document["paths"][path], endpoint


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("text/*;q=0.9, application/json;q=0.8", True),
        ("", False),
        ("*/*", False),
        ("application/json, text/html", False),
        ("text/html;q=0, */*", False),
        ("text/html;q=nan, application/json;q=0.1", False),
    ],
)
def test_prefers_html(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


# ---------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with Chromium(binary, tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


def operation(op_id: str) -> str:
    return f"document.querySelector('#operations-{op_id}')"


def try_it_out(browser: Chromium, op_id: str, params: dict[str, str] | None = None,
               body: str | None = None) -> tuple[str, str]:
    """Expand an operation, press "Try it out", fill in its path parameters and body as a
    person would (typing), then "Execute": the status and body shown."""
    op = operation(op_id)
    browser.evaluate(f"{op}.querySelector('.opblock-summary-control').click()")
    browser.wait_for(f"{op}.querySelector('.try-out__btn')")
    browser.evaluate(f"{op}.querySelector('.try-out__btn').click()")
    browser.wait_for(f"{op}.querySelector('.execute')")
    for name, value in (params or {}).items():
        field = f"{op}.querySelector('tr[data-param-name=\"{name}\"] input')"
        browser.wait_for(field)
        browser.evaluate(f"{field}.focus()")
        browser.type_text(value)
        browser.evaluate(f"{field}.blur()")  # the page takes a typed value on blur
    if body is not None:
        editor = f"{op}.querySelector('textarea.body-param__text')"
        browser.wait_for(editor)
        browser.evaluate(f"{editor}.focus(); {editor}.select()")
        browser.type_text(body)  # replaces the example, as typing over a selection does
        browser.evaluate(f"{editor}.blur()")
    browser.evaluate(f"{op}.querySelector('.execute').click()")
    response = f"{op}.querySelector('.live-responses-table .response')"
    status = browser.wait_for(f"{response}?.querySelector('.response-col_status').innerText")
    shown = browser.evaluate(
        f"{response}.querySelector('.response-col_description pre')?.innerText ?? ''")
    return status.strip(), shown


def authorize(browser: Chromium) -> None:
    """Log in with the example body, and paste the token into Authorize."""
    status, body = try_it_out(browser, "Authentication-login")
    assert status == "200", body
    token = json.loads(body)["access_token"]
    browser.evaluate("document.querySelector('.auth-wrapper .authorize').click()")
    browser.wait_for("document.querySelector('.modal-ux input')")
    browser.evaluate("document.querySelector('.modal-ux input').focus()")
    browser.type_text(token)
    browser.evaluate("document.querySelector('.modal-ux .auth-btn-wrapper .authorize').click()")
    browser.wait_for("document.querySelector('.modal-ux .btn-done')")
    browser.evaluate("document.querySelector('.modal-ux .btn-done').click()")


def test_the_docs_render_every_operation(
    browser: Chromium, server_url: str, tmp_path: Path
) -> None:
    browser.open(f"{server_url}/docs")
    count = browser.wait_for("document.querySelectorAll('.opblock').length >= 19 && 'rendered'")
    assert count == "rendered"
    ids = browser.evaluate("[...document.querySelectorAll('.opblock')].map(e => e.id)")
    assert ids == [
        "operations-Authentication-login",
        "operations-Authentication-refresh",
        "operations-Accounts-listAccounts",
        "operations-Accounts-createAccount",
        "operations-Accounts-getAccount",
        "operations-Accounts-replaceAccount",
        "operations-Accounts-updateAccount",
        "operations-Accounts-deleteAccount",
        "operations-Users-listUsers",
        "operations-Users-getUser",
        "operations-Keys-getJwks",
        "operations-Service_accounts-listServiceAccounts",
        "operations-Service_accounts-createServiceAccount",
        "operations-Service_accounts-getServiceAccount",
        "operations-Service_accounts-updateServiceAccount",
        "operations-Service_accounts-deleteServiceAccount",
        "operations-Service_accounts-listKeys",
        "operations-Service_accounts-issueKey",
        "operations-Service_accounts-revokeKey",
    ]
    title = browser.evaluate("document.querySelector('.info .title').textContent")
    assert title.startswith("DPaaS API")
    shot = browser.screenshot(tmp_path / "docs.png")
    print(f"screenshot of /docs: {shot}")
    assert not browser.messages, browser.messages  # no CSP violation, no script error


def test_try_it_out_logs_in_and_authorize_lists_accounts(
    browser: Chromium, server_url: str, tmp_path: Path
) -> None:
    """The guide's walkthrough in the page: login's example, the token in Authorize, the list."""
    browser.open(f"{server_url}/docs")
    browser.wait_for("document.querySelectorAll('.opblock').length >= 6")
    authorize(browser)

    status, body = try_it_out(browser, "Accounts-listAccounts")
    assert status == "200", body
    names = [a["name"] for a in json.loads(body)["results"]]
    assert {"Production", "Development"} <= set(names)
    browser.evaluate(f"{operation('Accounts-listAccounts')}.scrollIntoView()")
    print(f"screenshot after listing: {browser.screenshot(tmp_path / 'listed.png')}")
    assert not browser.messages, browser.messages


def test_try_it_out_gets_patches_and_deletes_an_account(
    browser: Chromium, server_url: str, tmp_path: Path
) -> None:
    """The one-account operations through the page: get an account by its id, change its name,
    delete it; then its id is gone. (The login, Authorize and create went through the page in
    the test above; here the token and the account come from the API directly.)"""
    with httpx.Client(base_url=server_url, timeout=10) as c:
        tokens = c.post("/authentication/login", json={
            "email": "user@example.com", "password": "your-password",
            "organization_slug": "myorg"}).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        account = c.post("/accounts", json={"name": "Made for the docs"}, headers=bearer).json()
    browser.open(f"{server_url}/docs")
    browser.wait_for("document.querySelectorAll('.opblock').length >= 11")
    token = json.dumps(tokens["access_token"])
    browser.evaluate(f"window.ui.preauthorizeApiKey('bearerAuth', {token})")

    status, body = try_it_out(browser, "Accounts-getAccount", {"id": account["id"]})
    assert status == "200", body
    assert json.loads(body) == account

    patch = json.dumps({"name": "Renamed in the docs"})
    status, body = try_it_out(browser, "Accounts-updateAccount", {"id": account["id"]}, patch)
    assert status == "200", body
    assert json.loads(body)["name"] == "Renamed in the docs"
    browser.evaluate(f"{operation('Accounts-updateAccount')}.scrollIntoView()")
    print(f"screenshot after the PATCH: {browser.screenshot(tmp_path / 'patched.png')}")

    status, body = try_it_out(browser, "Accounts-deleteAccount", {"id": account["id"]})
    assert status == "204", body
    with httpx.Client(base_url=server_url, timeout=10) as c:
        gone = c.get(f"/accounts/{account['id']}", headers=bearer)
    assert gone.status_code == 404
    assert not browser.messages, browser.messages


def test_a_key_entered_in_authorize_signs_a_list_in_the_browser(
    browser: Chromium, server_url: str, tmp_path: Path
) -> None:
    """A person enters the demo reader's ACCESS_KEY:SECRET_KEY under hmacAuth, as printed at
    start, and lists accounts: the page signs the request with Web Crypto (no bearer token is
    set, so only a valid signature gets the 200), and the secret itself is never sent."""
    from reference_server.demo import DEMO_READER

    browser.open(f"{server_url}/docs")
    browser.wait_for("document.querySelectorAll('.opblock').length >= 19")
    browser.evaluate("document.querySelector('.auth-wrapper .authorize').click()")
    hmac_box = ("[...document.querySelectorAll('.modal-ux .auth-container')]"
                ".find(c => c.textContent.includes('hmacAuth'))")
    browser.wait_for(f"{hmac_box}?.querySelector('input')")
    browser.evaluate(f"{hmac_box}.querySelector('input').focus()")
    browser.type_text(f"{DEMO_READER.access_key}:{DEMO_READER.secret_key}")
    browser.evaluate(f"{hmac_box}.querySelector('.auth-btn-wrapper .authorize').click()")
    browser.wait_for("document.querySelector('.modal-ux .btn-done')")
    browser.evaluate("document.querySelector('.modal-ux .btn-done').click()")

    status, body = try_it_out(browser, "Service_accounts-listServiceAccounts")
    assert status == "403", body  # signed and authenticated: the reader may not list these
    status, body = try_it_out(browser, "Accounts-listAccounts")
    assert status == "200", body
    assert json.loads(body)["total"] >= 2
    shown = browser.evaluate(
        f"{operation('Accounts-listAccounts')}.querySelector('.curl-command')?.innerText ?? ''")
    assert DEMO_READER.secret_key not in shown, "the page shows the secret in its curl command"
    print(f"screenshot after the signed list: {browser.screenshot(tmp_path / 'signed.png')}")
    unexpected = [m for m in browser.messages if "status of 403" not in m[1]]  # the one above
    assert not unexpected, unexpected
