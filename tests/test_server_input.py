"""Hostile input (issue 9, items 1-3): nothing a write accepts can break a later read.

Every value a write accepts must come back as strict JSON (RFC 8259: no NaN/Infinity, no lone
surrogates, valid UTF-8), and every value it cannot serve back is a 422 naming the field.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dpaas_conformance.library.embedded import ServedApp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reference_server.app import Components, create_app
from reference_server.config import Settings
from reference_server.pagination import ListParams, Page
from reference_server.store import Store
from tests.support import FakeClock
from tests.test_server_api import assert_error, auth, login

#: Hypothesis examples per property; CI keeps it small, `DPAAS_HYPOTHESIS_EXAMPLES=2000` digs.
EXAMPLES = int(os.environ.get("DPAAS_HYPOTHESIS_EXAMPLES", "40"))
JSON_HEADERS = {"Content-Type": "application/json"}


def strict_json(raw: bytes) -> Any:
    """Parse as a strict parser would: UTF-8, no NaN/Infinity, no lone surrogates, finite."""
    text = raw.decode("utf-8")

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    value = json.loads(text, parse_constant=refuse)
    # Re-encoding strictly fails on a lone surrogate escape or a number like 1e999 (inf).
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    return value


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings_ = Settings(data_dir=tmp_path_factory.mktemp("input"), demo=True, clock=FakeClock())
    with (
        ServedApp(lambda: create_app(settings_)) as base,
        httpx.Client(base_url=base, timeout=10) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def principals(served: httpx.Client) -> dict[str, dict[str, str]]:
    return {who: auth(login(served, who)) for who in ("admin", "limited")}


def every_list_page_is_strict(client: httpx.Client, headers: dict[str, str]) -> int:
    """Walk every accounts page; each must be 200 and strict JSON. Returns the items seen."""
    seen = 0
    for page in range(1, 1000):
        r = client.get("/accounts", params={"page": page, "quantity": 100}, headers=headers)
        assert r.status_code == 200, r.text
        body = strict_json(r.content)
        seen += len(body["results"])
        if not body["results"]:
            assert seen == body["total"]
            return seen
    raise AssertionError("too many pages")


# ---------------------------------------------------------------- refused, naming the field


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"name": "x", "metadata": {"v": 1e999}}', "metadata"),
        ('{"name": "x", "metadata": {"v": [-1e999]}}', "metadata"),
        ('{"name": "x", "metadata": {"v": 9007199254740993}}', "metadata"),
        ('{"name": "x", "metadata": {"v": -1.5e300}}', "metadata"),
        ('{"name": "x", "metadata": {"v": ' + nested(16) + "}}", "metadata"),
        ('{"name": "x", "metadata": {"v": ' + nested(975) + "}}", "metadata"),
        ('{"name": "x", "metadata": {"v": "\\ud800"}}', "metadata"),
        ('{"name": "x", "metadata": {"\\udfff": 1}}', "metadata"),
        ('{"name": "\\ud800"}', "name"),
        ('{"name": "a\\udc00b", "metadata": {}}', "name"),
    ],
)
def test_a_value_that_cannot_be_served_back_is_a_422_naming_the_field(
    served: httpx.Client, principals: dict[str, dict[str, str]], raw: str, field: str
) -> None:
    h = {**principals["admin"], **JSON_HEADERS}
    before = served.get("/accounts", headers=h).json()["total"]
    r = served.post("/accounts", content=raw.encode(), headers=h)
    err = assert_error(r, 422, "ValidationError")
    assert field in err["details"], err
    strict_json(r.content)
    assert served.get("/accounts", headers=h).json()["total"] == before


def test_metadata_as_deep_as_allowed_is_stored_and_served(
    served: httpx.Client, principals: dict[str, dict[str, str]]
) -> None:
    h = {**principals["admin"], **JSON_HEADERS}
    raw = '{"name": "deep enough", "metadata": {"big": 9007199254740991, "v": ' + nested(15) + "}}"
    r = served.post("/accounts", content=raw.encode(), headers=h)
    assert r.status_code == 201, r.text
    assert strict_json(r.content)["metadata"] == json.loads(raw)["metadata"]
    every_list_page_is_strict(served, h)


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/authentication/login", '{"email": "user@example.com", "password": "\\ud800", '
         '"organization_slug": "myorg"}', "password"),
        ("/authentication/login", '{"email": "\\udbff@example.com", "password": "x", '
         '"organization_slug": "myorg"}', "email"),
        ("/authentication/login", '{"email": "user@example.com", "password": "x", '
         '"organization_slug": "my\\ud800org"}', "organization_slug"),
        ("/authentication/refresh", '{"refresh_token": "\\ud800"}', "refresh_token"),
    ],
)
def test_a_lone_surrogate_in_a_credential_is_a_422_not_a_crash(
    served: httpx.Client, path: str, raw: str, field: str
) -> None:
    r = served.post(path, content=raw.encode(), headers=JSON_HEADERS)
    assert field in assert_error(r, 422, "ValidationError")["details"]


def test_unknown_field_names_are_named_back_as_valid_json(
    served: httpx.Client, principals: dict[str, dict[str, str]]
) -> None:
    h = {**principals["admin"], **JSON_HEADERS}
    raw = '{"name": "x", "\\ud800": 1, "%s": 2}' % ("k" * 5000)
    r = served.post("/accounts", content=raw.encode(), headers=h)
    err = assert_error(r, 422, "ValidationError")
    strict_json(r.content)
    assert len(err["details"]) == 2 and all(len(k) <= 64 for k in err["details"])


# ---------------------------------------------------------------- any body (Hypothesis)

_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_STRING = _TEXT.map(json.dumps)  # json.dumps escapes lone surrogates as \udxxx
_NUMBER = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.sampled_from(["1e999", "-1e999", "1E400", "-0", "1e-400", "9007199254740992",
                     "123456789012345678901234567890", "0.1e1", "-9007199254740991"]),
)
_SCALAR = st.one_of(st.sampled_from(["null", "true", "false"]), _NUMBER, _STRING)
_DEEP = st.one_of(st.integers(1, 20), st.integers(1, 1200)).map(nested)


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(members: dict[str, str]) -> str:
    return "{" + ",".join(f"{k}:{v}" for k, v in members.items()) + "}"


_VALUE = st.recursive(
    st.one_of(_SCALAR, _DEEP),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(_array),
        st.dictionaries(_STRING, inner, max_size=4).map(_object),
    ),
    max_leaves=25,
)
def _weighted(*choices: tuple[int, st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    """Draw from each strategy `weight` times as often (one_of picks its own proportions)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


# Weighted towards bodies that could be accepted: those are the ones that can poison a read.
_VALID_NAME = st.text(min_size=1, max_size=40).filter(str.strip).map(json.dumps)
_NAME = _weighted((6, _VALID_NAME), (1, _STRING), (1, _VALUE))
_METADATA = _weighted((6, st.dictionaries(_STRING, _VALUE, max_size=5).map(_object)), (1, _VALUE))
_ACCOUNT_BODY = st.fixed_dictionaries(
    {'"name"': _NAME},
    optional={'"is_default"': _weighted((6, st.sampled_from(["true", "false"])), (1, _VALUE)),
              '"metadata"': _METADATA},
).map(_object)
_ODD_BODY = st.one_of(_VALUE, st.dictionaries(_STRING, _VALUE, max_size=4).map(_object))
_BODY = _weighted((6, _ACCOUNT_BODY), (1, _ODD_BODY))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=_BODY)
def test_any_json_body_is_stored_servable_or_refused_with_a_json_4xx(
    served: httpx.Client, principals: dict[str, dict[str, str]], raw: str
) -> None:
    h = {**principals["admin"], **JSON_HEADERS}
    r = served.post("/accounts", content=raw.encode("utf-8", "surrogatepass"), headers=h)
    body = strict_json(r.content)
    event(f"status {r.status_code}")  # --hypothesis-show-statistics shows the mix
    if 400 <= r.status_code < 500:
        assert isinstance(body["error"], str) and isinstance(body["message"], str), body
        return
    assert r.status_code == 201, r.text
    sent = json.loads(raw)
    assert body["metadata"] == sent.get("metadata", {}) and body["name"] == sent["name"].strip()
    for headers in principals.values():
        every_list_page_is_strict(served, headers)


# ---------------------------------------------------------------- data from an old database


def _poisoned(row: dict[str, Any]) -> dict[str, Any]:
    """A row as a database written before validation existed could hold it."""
    deep: list[Any] = []
    for _ in range(3000):
        deep = [deep]
    return {**row, "name": row["name"] + "\ud800",
            "metadata": {"inf": math.inf, "nan": math.nan, "deep": deep, "\udfff": "x"}}


class OldDatabaseStore(Store):
    """Serves every account as if its stored record predated input validation."""

    async def list_accounts(self, organization_id: str, params: ListParams) -> Page:
        page = await super().list_accounts(organization_id, params)
        return Page(total=page.total, results=[_poisoned(r) for r in page.results])


def test_a_poisoned_record_from_an_old_database_is_served_repaired(tmp_path: Path) -> None:
    settings_ = Settings(data_dir=tmp_path, demo=True, clock=FakeClock())
    components = Components(store=OldDatabaseStore)
    with (
        ServedApp(lambda: create_app(settings_, components)) as base,
        httpx.Client(base_url=base, timeout=10) as c,
    ):
        h = auth(login(c))
        r = c.get("/accounts", headers=h)
        assert r.status_code == 200, r.text
        body = strict_json(r.content)
        assert body["total"] == len(body["results"]) == 2
        for item in body["results"]:
            assert item["name"].endswith("\ufffd")
            assert item["metadata"]["inf"] is None and item["metadata"]["nan"] is None
            assert item["metadata"]["\ufffd"] == "x"


@settings(
    max_examples=EXAMPLES // 2,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=_BODY, method=st.sampled_from(["PUT", "PATCH"]))
def test_any_json_update_is_stored_servable_or_refused_with_a_json_4xx(
    served: httpx.Client, principals: dict[str, dict[str, str]], raw: str, method: str
) -> None:
    """ERR-5 for the writes ACCOUNTS adds: an accepted update reads back, in the account and
    in every list page (deleted accounts included), for every principal."""
    h = {**principals["admin"], **JSON_HEADERS}
    made = served.post("/accounts", json={"name": "Updated by Hypothesis"}, headers=h).json()
    r = served.request(method, f"/accounts/{made['id']}",
                       content=raw.encode("utf-8", "surrogatepass"), headers=h)
    body = strict_json(r.content)
    event(f"{method} status {r.status_code}")
    if 400 <= r.status_code < 500:
        assert isinstance(body["error"], str) and isinstance(body["message"], str), body
        return
    assert r.status_code == 200, r.text
    for headers in principals.values():
        every_list_page_is_strict(served, headers)
        read = served.get(f"/accounts/{made['id']}", headers=headers)
        assert read.status_code == 200 and strict_json(read.content) == body
    wider = served.get("/accounts", params={"include_deleted": "true", "quantity": 100},
                       headers=principals["admin"])
    assert wider.status_code == 200
    strict_json(wider.content)


# ---------------------------------------------------------------- repeated keys (issue 18)


@pytest.mark.parametrize(
    ("path", "raw", "field", "names"),
    [
        ("/accounts", '{"name": "first", "name": "second"}', "name", "name"),
        ("/accounts", '{"name": "x", "metadata": {"a": 1, "b": {"c": 1, "c": 2}}}', "metadata",
         "metadata.b.c"),
        ("/accounts", '{"name": "x", "metadata": {"l": [{"k": 1}, {"k": 1, "k": 2}]}}',
         "metadata", "metadata.l[1].k"),
        ("/authentication/login",
         '{"email": "a@example.com", "email": "user@example.com", "password": "p",'
         ' "organization_slug": "myorg"}', "email", "email"),
        ("/authentication/refresh", '{"refresh_token": "a", "refresh_token": "b"}',
         "refresh_token", "refresh_token"),
    ],
)
def test_a_key_repeated_in_a_body_is_a_422_naming_it(
    served: httpx.Client, principals: dict[str, dict[str, str]], path: str, raw: str,
    field: str, names: str,
) -> None:
    """Parsers disagree on which of two values wins (most take the last, some the first): the
    server refuses to pick one, and says which key it is."""
    h = {**principals["admin"], **JSON_HEADERS}
    before = served.get("/accounts", headers=h).json()["total"]
    r = served.post(path, content=raw.encode(), headers=h)
    err = assert_error(r, 422, "ValidationError")
    assert list(err["details"]) == [field], err
    assert names in " ".join(err["details"][field]) or names == field, err
    assert served.get("/accounts", headers=h).json()["total"] == before


@pytest.mark.parametrize(
    "raw", ['[{"a": 1, "a": 2}]', '{"a": 1, "a": 2', '{"a": 1, "a": 2, "b": NaN}'])
def test_a_repeated_key_in_a_body_that_is_not_an_object_anyway_is_a_400(
    served: httpx.Client, principals: dict[str, dict[str, str]], raw: str
) -> None:
    r = served.post("/accounts", content=raw.encode(),
                    headers={**principals["admin"], **JSON_HEADERS})
    assert_error(r, 400, "BadRequest")


def test_an_access_token_with_padding_appended_is_refused(
    served: httpx.Client, principals: dict[str, dict[str, str]]
) -> None:
    bearer = principals["admin"]["Authorization"]
    assert served.get("/accounts", headers={"Authorization": bearer}).status_code == 200
    r = served.get("/accounts", headers={"Authorization": bearer + "=="})
    assert_error(r, 401, "Unauthorized")
