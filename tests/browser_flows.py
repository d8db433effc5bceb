"""The docs page's flows in a real headless Chromium, run beside the other tests.

Each flow is what a person does on `/docs` (try it out, Authorize, sign with a key), with its
assertions. They start when collection ends, in a thread of their own that mostly waits on the
browser (`pytest_collection_finish`), so the browser's work overlaps the other tests instead of
holding the main process up for some ten seconds; `tests/test_docs.py` has one test per flow,
which picks up how it went at the end of the run. Under pytest-xdist, or when collection did not
start them, the first of those tests runs them itself. A flow keeps the screenshots it takes
(`Shots`) for its test to print: a thread's prints would land in whichever test is running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from dpaas_conformance.library.embedded import ServedApp

from reference_server.app import create_app
from reference_server.config import Settings
from tests.chromium import Chromium, find_chromium

MODULE = "test_docs.py"
RUN_TIMEOUT = 300
Flow = Callable[[Chromium, str, "Shots"], None]
#: The flows by name, in the order they run (one browser, one page, reloaded by each flow).
FLOWS: dict[str, Flow] = {}


def flow(function: Flow) -> Flow:
    FLOWS[function.__name__] = function
    return function


class Shots:
    """The screenshots a flow takes, kept whether or not it then passes."""

    def __init__(self, browser: Chromium, directory: Path) -> None:
        self.browser = browser
        self.directory = directory
        self.taken: list[Path] = []

    def take(self, name: str) -> Path:
        self.taken.append(self.browser.screenshot(self.directory / name))
        return self.taken[-1]


@dataclass
class Outcome:
    """How one flow went: its error (None: it passed), the screenshots it took."""

    error: BaseException | None = None
    screenshots: list[Path] = field(default_factory=list)


@dataclass
class Flows:
    """Every flow's outcome; `missing` says why none ran (no browser)."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    missing: str = ""


# ------------------------------------------------------------------ the page, as a person uses it


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


@flow
def the_docs_render_every_operation(browser: Chromium, server_url: str, shots: Shots) -> None:
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
    shots.take("docs.png")
    assert not browser.messages, browser.messages  # no CSP violation, no script error


@flow
def try_it_out_logs_in_and_authorize_lists_accounts(browser: Chromium, server_url: str,
                                                    shots: Shots) -> None:
    """The guide's walkthrough in the page: login's example, the token in Authorize, the list."""
    browser.open(f"{server_url}/docs")
    browser.wait_for("document.querySelectorAll('.opblock').length >= 6")
    authorize(browser)

    status, body = try_it_out(browser, "Accounts-listAccounts")
    assert status == "200", body
    names = [a["name"] for a in json.loads(body)["results"]]
    assert {"Production", "Development"} <= set(names)
    browser.evaluate(f"{operation('Accounts-listAccounts')}.scrollIntoView()")
    shots.take("listed.png")
    assert not browser.messages, browser.messages


@flow
def try_it_out_gets_patches_and_deletes_an_account(browser: Chromium, server_url: str,
                                                   shots: Shots) -> None:
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
    shots.take("patched.png")

    status, body = try_it_out(browser, "Accounts-deleteAccount", {"id": account["id"]})
    assert status == "204", body
    with httpx.Client(base_url=server_url, timeout=10) as c:
        gone = c.get(f"/accounts/{account['id']}", headers=bearer)
    assert gone.status_code == 404
    assert not browser.messages, browser.messages


@flow
def a_key_entered_in_authorize_signs_a_list_in_the_browser(browser: Chromium, server_url: str,
                                                           shots: Shots) -> None:
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
    shots.take("signed.png")
    unexpected = [m for m in browser.messages if "status of 403" not in m[1]]  # the one above
    assert not unexpected, unexpected


# ------------------------------------------------------------------ running them


def run_flows(config: pytest.Config) -> Flows:
    """Every flow, in one browser, against the demo server on a fresh database."""
    binary = find_chromium()
    if binary is None:
        return Flows(missing="chromium is not installed (apt-get install chromium)")
    temp = config._tmp_path_factory  # type: ignore[attr-defined]  # pytest's own tmp_path maker
    settings = Settings(data_dir=temp.mktemp("docs-flows"), demo=True)
    found = Flows()
    with (ServedApp(lambda: create_app(settings)) as url,
          Chromium(binary, temp.mktemp("chromium-profile")) as browser):
        for name, run in FLOWS.items():
            browser.messages.clear()  # each flow answers for its own page's messages
            shots = Shots(browser, temp.mktemp(name, numbered=True))
            try:
                run(browser, url, shots)
            except Exception as exc:  # the flow's test raises it again
                found.outcomes[name] = Outcome(exc, shots.taken)
            else:
                found.outcomes[name] = Outcome(None, shots.taken)
    return found


STARTED = pytest.StashKey[Future[Flows]]()


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Generator[None, None, None]:
    """The browser tests last (stable: the rest keep their order), so that the flows have had
    the time to end."""
    yield
    items.sort(key=lambda item: item.path.name == MODULE and item.name in TESTS)


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput"):
        return
    if any(item.path.name == MODULE and item.name in TESTS for item in session.items):
        start(config)


def start(config: pytest.Config) -> None:
    # pytest makes the run's base temp dir on first use, and two threads making it at once
    # made two (a flow's `mktemp` then refused its own dir): made here, in the main thread.
    config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dpaas-docs-flows")
    config.stash[STARTED] = executor.submit(run_flows, config)
    executor.shutdown(wait=False)


def outcome(config: pytest.Config, name: str) -> Outcome:
    """How the flow went; fails (in CI) or skips without a browser."""
    if STARTED not in config.stash:
        start(config)
    flows = config.stash[STARTED].result(timeout=RUN_TIMEOUT)
    if flows.missing:
        if os.environ.get("CI"):
            pytest.fail(f"{flows.missing}: .ci/run installs it")
        pytest.skip(flows.missing)
    return flows.outcomes[name]


#: The test of each flow in tests/test_docs.py.
TESTS = {f"test_{name}" for name in FLOWS}
