"""The OpenAPI document: built from the suite's schemas, valid, truthful about the server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dpaas_conformance.library.embedded import ServedApp
from dpaas_conformance.library.schemas import SCHEMA_DIR
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from reference_server import openapi
from reference_server.app import create_app
from reference_server.config import Settings
from reference_server.pagination import MAX_QUANTITY
from reference_server.routes import accounts, auth
from reference_server.store import ACCOUNT_ORDER_FIELDS, USER_ORDER_FIELDS

DOC_URI = "urn:dpaas:openapi"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(openapi.DOCUMENT_PATH.read_text(encoding="utf-8"))


def test_committed_document_is_built_from_the_suite_schemas() -> None:
    """The suite's schemas and the document cannot drift: the file is exactly what they build."""
    built = openapi.render(openapi.build_document())
    committed = openapi.DOCUMENT_PATH.read_text(encoding="utf-8")
    assert committed == built, (
        f"{openapi.DOCUMENT_PATH.name} is out of date with steps/library/schemas or "
        "reference_server/openapi.py: run `python -m reference_server.openapi` and commit the "
        "result"
    )


def test_every_suite_schema_is_a_component(document: dict[str, Any]) -> None:
    files = {p.stem for p in SCHEMA_DIR.glob("*.json")}
    assert files == set(openapi.SUITE_SCHEMAS), (
        "map every steps/library/schemas file to a component"
    )
    components = document["components"]["schemas"]
    for file_name, component in openapi.SUITE_SCHEMAS.items():
        suite = json.loads((SCHEMA_DIR / f"{file_name}.json").read_text(encoding="utf-8"))
        ours = components[component]
        assert ours["required"] == suite["required"], component
        assert set(suite["properties"]) <= set(ours["properties"]), component


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1.")


def _examples(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every media type that carries an example."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any], Any]]:
        if isinstance(node, dict):
            if "schema" in node and "example" in node:
                yield where, node["schema"], node["example"]
            for key, value in node.items():
                yield from walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, f"{where}/{i}")

    yield from walk(document["paths"], "#/paths")
    yield from walk(document["components"]["responses"], "#/components/responses")


def test_every_example_matches_its_schema(document: dict[str, Any]) -> None:
    """The guide's examples are valid bodies by the suite's own schemas."""
    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    found = list(_examples(document))
    assert len(found) >= 10, "the guide's examples are missing from the document"
    for where, schema, example in found:
        target = {"$ref": DOC_URI + schema["$ref"]} if "$ref" in schema else schema
        errors = [
            e.message for e in Draft202012Validator(target, registry=registry).iter_errors(example)
        ]
        assert not errors, f"{where}: {errors}"


def test_document_states_the_servers_own_bounds(document: dict[str, Any]) -> None:
    """What the document calls valid, the server accepts; where the server refuses, so does it."""
    schemas = document["components"]["schemas"]
    create = schemas["AccountCreate"]
    assert create["properties"]["name"]["maxLength"] == accounts.MAX_NAME_LENGTH
    assert create["additionalProperties"] is False
    assert set(create["properties"]) == accounts.WRITABLE
    login = schemas["LoginRequest"]["properties"]
    assert login["email"]["maxLength"] == auth.MAX_EMAIL_LENGTH
    assert login["organization_slug"]["maxLength"] == auth.MAX_SLUG_LENGTH
    params = document["components"]["parameters"]
    assert params["quantity"]["schema"]["maximum"] == MAX_QUANTITY
    orders = {"accountOrderBy": ACCOUNT_ORDER_FIELDS, "userOrderBy": USER_ORDER_FIELDS}
    for key, fields in orders.items():
        enum = params[key]["schema"]["enum"]
        assert {v.removeprefix("-") for v in enum} == set(fields), key


def test_every_operation_is_served(document: dict[str, Any], tmp_path: Path) -> None:
    """Each documented path answers, and the document itself needs no authentication."""
    settings = Settings(data_dir=tmp_path)
    with ServedApp(lambda: create_app(settings)) as base_url, httpx.Client(base_url=base_url) as c:
        r = c.get("/openapi.json")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.json() == document
        for path, item in document["paths"].items():
            for method in item:
                served = re.sub(r"\{[^}]+\}", "some-id", path)  # a 401 comes before any lookup
                assert c.request(method, served).status_code != 404, f"{method.upper()} {path}"


def test_not_blank_pattern_is_what_the_server_strips() -> None:
    """The name pattern and the server agree on every character: blank means `not c.strip()`."""
    pattern = re.compile(openapi.NOT_BLANK)
    disagree = [
        hex(cp)
        for cp in range(0x110000)
        if not 0xD800 <= cp <= 0xDFFF and bool(pattern.search(chr(cp))) != bool(chr(cp).strip())
    ]
    assert not disagree
