"""Swagger 1.2 documents the simulated ARI serves at /ari/api-docs/ (what aioari reads).

Generated from our own operation and model table (``ari_spec``); ``basePath`` is the URL the
client used, as on Asterisk (which fills it from its http.conf bind address).
"""

from __future__ import annotations

from typing import Any

from callcenter.sim.ari_spec import MODELS, RESOURCES, Model, Operation, Param, operations_of

Json = dict[str, Any]

API_VERSION = "10.0.0"
SWAGGER_VERSION = "1.1"  # what Asterisk 22 announces, although the documents are swagger 1.2


def resources_listing(base_path: str) -> Json:
    """/ari/api-docs/resources.json."""
    return {
        "apiVersion": API_VERSION,
        "swaggerVersion": SWAGGER_VERSION,
        "basePath": base_path,
        "apis": [
            {"path": f"/api-docs/{name}.{{format}}", "description": description}
            for name, description in RESOURCES
        ],
    }


def _param_json(param: Param) -> Json:
    body: Json = {
        "name": param.name,
        "paramType": param.param_type,
        "required": param.required,
        "allowMultiple": param.multiple,
        "dataType": param.data_type,
    }
    if param.default is not None:
        body["defaultValue"] = param.default
    if param.allowed:
        body["allowableValues"] = {"valueType": "LIST", "values": list(param.allowed)}
    return body


def _operation_json(operation: Operation) -> Json:
    body: Json = {
        "httpMethod": operation.method,
        "summary": operation.nickname,
        "nickname": operation.nickname,
        "responseClass": operation.response_class,
    }
    if operation.websocket:
        body["upgrade"] = "websocket"
        body["websocketProtocol"] = "ari"
    body["parameters"] = [_param_json(param) for param in operation.params]
    body["errorResponses"] = [{"code": code, "reason": f"HTTP {code}"} for code in operation.errors]
    return body


def _model_json(model: Model) -> Json:
    properties: Json = {}
    for name, prop in model.properties.items():
        entry: Json = {"type": prop.type, "required": prop.required}
        if prop.allowed:
            entry["allowableValues"] = {"valueType": "LIST", "values": list(prop.allowed)}
        properties[name] = entry
    body: Json = {"id": model.id, "properties": properties}
    if model.extends:
        body["extends"] = model.extends
    subtypes = [other.id for other in MODELS.values() if other.extends == model.id]
    if subtypes:
        body["subTypes"] = subtypes
    return body


def api_declaration(resource: str, base_path: str) -> Json | None:
    """/ari/api-docs/{resource}.json, or None for a resource we do not serve."""
    if resource not in {name for name, _ in RESOURCES}:
        return None
    apis: list[Json] = []
    by_path: dict[str, Json] = {}
    for operation in operations_of(resource):
        api = by_path.get(operation.path)
        if api is None:
            api = by_path[operation.path] = {
                "path": operation.path,
                "description": operation.path,
                "operations": [],
            }
            apis.append(api)
        api["operations"].append(_operation_json(operation))
    return {
        "apiVersion": API_VERSION,
        "swaggerVersion": SWAGGER_VERSION,
        "basePath": base_path,
        "resourcePath": f"/api-docs/{resource}.{{format}}",
        "apis": apis,
        "models": {
            model.id: _model_json(model) for model in MODELS.values() if model.resource == resource
        },
    }
