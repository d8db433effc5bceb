"""`GET /docs` and `GET /`: over HTTP, then in a real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from dpaas_conformance.library.embedded import ServedApp

from reference_server.app import create_app
from reference_server.config import Settings
from reference_server.headers import API_CSP
from reference_server.routes.docs import DOCS_CSP, INDEX, prefers_html
from tests.browser_flows import outcome

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
# The flows themselves are in tests/browser_flows.py: they run beside the other tests, and each
# test here reports how its flow went.


def in_chromium(request: pytest.FixtureRequest) -> None:
    """The flow named as this test, as it went in the browser."""
    found = outcome(request.config, request.node.name.removeprefix("test_"))
    for shot in found.screenshots:
        print(f"screenshot: {shot}")
    if found.error is not None:
        raise found.error


def test_the_docs_render_every_operation(request: pytest.FixtureRequest) -> None:
    in_chromium(request)


def test_try_it_out_logs_in_and_authorize_lists_accounts(request: pytest.FixtureRequest) -> None:
    """The guide's walkthrough in the page: login's example, the token in Authorize, the list."""
    in_chromium(request)


def test_try_it_out_gets_patches_and_deletes_an_account(request: pytest.FixtureRequest) -> None:
    """The one-account operations through the page: get, change and delete an account."""
    in_chromium(request)


def test_a_key_entered_in_authorize_signs_a_list_in_the_browser(
    request: pytest.FixtureRequest,
) -> None:
    """The demo reader's key under hmacAuth signs a list with Web Crypto (a 200)."""
    in_chromium(request)
