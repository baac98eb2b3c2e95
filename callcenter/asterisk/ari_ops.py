"""ARI operations read once from Asterisk's api-docs, then turned into requests cheaply.

aioswagger11's ``Operation.__call__`` walks the operation's swagger parameters and formats a
debug line with ``urlencode`` on every request. ``AriOperation`` does the same checks (every
required parameter given, no parameter the api-docs do not list; a list becomes
comma-separated values; path values are quoted) from tables built once per connection, so a
request costs a few dict lookups before aiohttp (benchmarks/acd_latency.py counts the requests
of a call; ``AriClient._request`` uses this).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit


@dataclass(frozen=True, slots=True)
class AriOperation:
    """One REST operation of Asterisk's api-docs (``channels.answer``...)."""

    name: str
    method: str
    uri: str
    """Absolute URL with ``{placeholders}`` for the path parameters."""
    path_params: frozenset[str]
    query_params: frozenset[str]
    body_params: frozenset[str]
    required: frozenset[str]
    host: str | None
    """The host of ``uri`` (credentials are sent only to ARI's own host)."""

    @classmethod
    def from_swagger(cls, resource: str, uri: str, operation: Mapping[str, Any]) -> AriOperation:
        kinds: dict[str, set[str]] = {"path": set(), "query": set(), "body": set()}
        required: set[str] = set()
        for param in operation.get("parameters") or ():
            kind = param.get("paramType")
            if kind not in kinds:
                raise ValueError(
                    f"{resource}.{operation.get('nickname')}: unsupported paramType {kind!r}"
                )
            kinds[kind].add(param["name"])
            if param.get("required"):
                required.add(param["name"])
        return cls(
            name=f"{resource}.{operation['nickname']}",
            method=str(operation["httpMethod"]),
            uri=uri,
            path_params=frozenset(kinds["path"]),
            query_params=frozenset(kinds["query"]),
            body_params=frozenset(kinds["body"]),
            required=frozenset(required),
            host=urlsplit(uri).hostname,
        )

    def request(self, params: Mapping[str, Any]) -> tuple[str, dict[str, str], str | None]:
        """(URL, query, JSON body or None) for these parameters (None values are left out).

        Raises TypeError, as aioswagger11 did, for a missing required or an unknown parameter.
        """
        uri = self.uri
        query: dict[str, str] = {}
        body: dict[str, Any] | None = None
        for name, value in params.items():
            if value is None:
                continue
            if isinstance(value, list | tuple):
                value = ",".join(str(v) for v in value)
            if name in self.query_params:
                query[name] = _text(value)
            elif name in self.path_params:
                uri = uri.replace("{" + name + "}", quote_plus(str(value)))
            elif name in self.body_params:
                body = body or {}
                body[name] = value
            else:
                raise TypeError(f"'{self.name}' does not have parameter {name!r}")
        for name in self.required:
            if params.get(name) is None:
                raise TypeError(f"Missing required parameter {name!r} for '{self.name}'")
        return uri, query, json.dumps(body) if body is not None else None


def _text(value: Any) -> str:
    """yarl refuses bool query values; ARI wants ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def operations_from(resources: Mapping[str, Any]) -> dict[tuple[str, str], AriOperation]:
    """Every REST operation of aioswagger11's loaded resources, by (resource, nickname)."""
    table: dict[tuple[str, str], AriOperation] = {}
    for resource_name, resource in resources.items():
        declaration = resource.json["api_declaration"]
        base = declaration["basePath"]
        for api in declaration["apis"]:
            for operation in api["operations"]:
                if operation.get("is_websocket") or operation.get("upgrade") == "websocket":
                    continue
                op = AriOperation.from_swagger(resource_name, base + api["path"], operation)
                table[(resource_name, str(operation["nickname"]))] = op
    return table
