"""The OpenAPI document describes exactly the API the application serves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api import make_api_app
from callcenter.api.openapi import openapi_document
from callcenter.routing.model import AgentState
from callcenter.routing.service import AcdService
from callcenter.routing.testing import make_config

TOKEN = "openapi-token"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture
async def service() -> AsyncIterator[AcdService]:
    service = AcdService(make_config())
    await service.start()
    yield service
    await service.close()


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    """(path template, method) of every route the application registers under /api/."""
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/"):
            routes.add((path, route.method.lower()))
    return routes


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow a local ``$ref`` (``#/components/...``)."""
    if isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return target
    return node


def test_every_api_route_is_documented_with_its_method(service: AcdService) -> None:
    app = make_api_app(service, TOKEN)
    served = api_routes(app)
    assert ("/api/agents/{agent_id}/pause", "post") in served  # the walk sees real routes
    assert served == documented(openapi_document())


def test_the_document_has_the_openapi_essentials() -> None:
    document = json.loads(json.dumps(openapi_document()))
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/api/openapi.json"]["get"]["security"] == []


def test_every_operation_documents_its_answers_and_parameters() -> None:
    document = openapi_document()
    operation_ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            operation_ids.append(operation["operationId"])
            responses = operation["responses"]
            assert "200" in responses, (path, method)
            if path != "/api/openapi.json":
                assert {"401", "403"} <= set(responses), (path, method)
            for status, response in responses.items():
                response = resolve(document, response)
                schema = resolve(document, response["content"]["application/json"]["schema"])
                if status != "200":
                    assert schema is document["components"]["schemas"]["Error"]
            # Every {placeholder} in the path is a documented path parameter.
            placeholders = {part[1:-1] for part in path.split("/") if part.startswith("{")}
            parameters = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert placeholders == parameters, (path, method)
    assert len(operation_ids) == len(set(operation_ids))

    pause = document["paths"]["/api/agents/{agent_id}/pause"]["post"]
    body = resolve(document, pause["requestBody"]["content"]["application/json"]["schema"])
    assert body["properties"]["reason"]["maxLength"] == 64
    assert "409" in pause["responses"] and "400" in pause["responses"]


async def test_documented_schemas_match_what_the_service_answers(service: AcdService) -> None:
    schemas = openapi_document()["components"]["schemas"]
    await service.login("bill1")
    status = service.status()
    assert set(status) == set(schemas["Status"]["properties"])
    assert set(status["agents"][0]) == set(schemas["Agent"]["properties"])
    assert set(status["queues"][0]) == set(schemas["Queue"]["properties"])
    assert set(schemas["Agent"]["required"]) == set(schemas["Agent"]["properties"])
    assert schemas["Agent"]["properties"]["state"]["enum"] == [s.value for s in AgentState]


async def test_the_document_is_served_as_json_without_a_token(service: AcdService) -> None:
    async with TestClient(TestServer(make_api_app(service, TOKEN))) as client:
        reply = await client.get("/api/openapi.json")
        assert reply.status == 200
        assert await reply.json() == openapi_document()
        # The other routes still need the token.
        assert (await client.get("/api/status")).status == 401


def test_the_document_passes_openapi_spec_validator() -> None:
    # Runs once openapi-spec-validator is in the dev dependencies (pyproject.toml).
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(openapi_document())
