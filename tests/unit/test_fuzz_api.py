"""Fuzzing the JSON API against its own OpenAPI document (Hypothesis, a small fixed budget).

Generated requests (paths, methods, tokens, content types, bodies of any shape, text with
control characters and lone surrogates, bytes that are not UTF-8) go over HTTP to the real ACD
service. Every answer must be one the document lists for that operation, with a body that
validates against the documented schema; a method the path does not serve gets 405 with the
``Allow`` the document implies. Never a 500.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from callcenter.api import make_api_app
from callcenter.api.openapi import openapi_document
from callcenter.routing.service import AcdService
from callcenter.routing.testing import make_config

TOKEN = "fuzz-token"
DOCUMENT = openapi_document()
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE")
FUZZ = settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    spec: dict[str, Any]


OPERATIONS = [
    Operation(path, method.upper(), spec)
    for path, item in DOCUMENT["paths"].items()
    for method, spec in item.items()
]


def schema_validator(schema: dict[str, Any]) -> Draft202012Validator:
    """Validates against ``schema`` with the document's ``#/components/...`` references."""
    return Draft202012Validator({**schema, "components": DOCUMENT["components"]})


def response_schema(operation: Operation, status: int) -> dict[str, Any] | None:
    """The documented body schema of ``status``, None when the status is not documented."""
    response = operation.spec["responses"].get(str(status))
    if response is None:
        return None
    if "$ref" in response:
        response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


# --- what a client may send -------------------------------------------------------------------

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)
"""Any code points, control characters and lone surrogates included."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)

reason_bodies = st.fixed_dictionaries(
    {},
    optional={"reason": st.one_of(any_text, st.text(max_size=70), json_values)},
).map(lambda body: json.dumps(body).encode())

raw_bodies = st.one_of(
    st.just(b""),
    json_values.map(lambda value: json.dumps(value).encode()),
    reason_bodies,
    st.binary(max_size=64),
    st.integers(1, 300).map(lambda depth: b"[" * depth + b"]" * depth),
    st.sampled_from([b"null", b"NaN", b'{"reason": "\\ud800"}', b'{"reason": "a\\u0000"}']),
)

content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=bogus",
            "application/json; charset=utf-16",
            "text/plain",
            "application/x-www-form-urlencoded",
        ]
    ),
)

authorizations = st.one_of(
    st.just(f"Bearer {TOKEN}"),
    st.just(f"Bearer {TOKEN}"),
    st.none(),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30).map(
        lambda token: f"Bearer {token}"
    ),
    st.sampled_from(["Basic eDp5", "Bearer", "bearer " + TOKEN, f"Bearer  {TOKEN} "]),
)

agent_ids = st.one_of(
    st.sampled_from(["bill1", "bill2", "sale1", "both1"]),
    st.text(st.characters(codec="utf-8", exclude_characters="/?#%"), min_size=1, max_size=20),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[Operation, str, str, dict[str, str], bytes]:
    operation = draw(st.sampled_from(OPERATIONS))
    method = draw(st.sampled_from([operation.method, operation.method, *METHODS]))
    path = operation.path.replace("{agent_id}", draw(agent_ids))
    headers = {}
    authorization = draw(authorizations)
    if authorization is not None:
        headers["Authorization"] = authorization
    content_type = draw(content_types)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return operation, method, path, headers, draw(raw_bodies)


# --- the property -----------------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    service = AcdService(make_config())
    await service.start()
    try:
        async with TestClient(TestServer(make_api_app(service, TOKEN))) as client:
            yield client
    finally:
        await service.close()


def allowed_methods(path_template: str) -> set[str]:
    return {method.upper() for method in DOCUMENT["paths"][path_template]}


@FUZZ
@given(request=requests())
async def test_every_answer_is_documented(
    client: TestClient[Any, Any], request: tuple[Operation, str, str, dict[str, str], bytes]
) -> None:
    operation, method, path, headers, body = request
    reply = await client.request(
        method, path, headers=headers, data=body, skip_auto_headers={"Content-Type"}
    )
    status = reply.status
    assert status < 500, (method, path, headers, body, await reply.text())
    raw = await reply.read()
    if method == "HEAD":  # no body to read; no route serves HEAD
        assert status in (401, 405)
        return
    payload = json.loads(raw)
    if method != operation.method:
        # Authentication comes first on /api/ (except the open document); an id with '{' or
        # '}' matches no route (aiohttp's placeholders exclude them).
        assert status in (401, 404, 405), (method, path, status)
        if status == 405:
            assert set(reply.headers["Allow"].split(",")) == allowed_methods(operation.path)
        schema_validator({"$ref": "#/components/schemas/Error"}).validate(payload)
        return
    if status == 413:
        pytest.fail(f"a body of {len(body)} bytes is far under the cap")
    schema = response_schema(operation, status)
    assert schema is not None, (
        f"{status} is not documented for {method} {operation.path}",
        payload,
    )
    schema_validator(schema).validate(payload)
    if status == 400:
        assert payload["code"] == "invalid-request"
