"""The OpenAPI 3.1 description of the JSON API, served at ``GET /api/openapi.json``.

Written by hand next to the handlers (``app.py``, ``agents.py``): a test walks the routes the
application registers and checks each one is described here with the same method, and that the
documented agent fields are the ones the ACD service answers with.
"""

from __future__ import annotations

import copy
from typing import Any

from callcenter import __version__
from callcenter.routing.model import AgentState
from callcenter.text import REASON_MAX_LENGTH

OPENAPI_PATH = "/api/openapi.json"

_NULLABLE_STRING = {"type": ["string", "null"]}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error: a stable code to act on, a message for people, details.",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {
                "type": "string",
                "examples": ["agent-not-found", "agent-not-logged-in", "forbidden"],
            },
            "message": {"type": "string"},
            "details": {"type": "object", "additionalProperties": True},
        },
    },
    "Agent": {
        "type": "object",
        "description": "One agent as the ACD service sees it now.",
        "required": [
            "id",
            "name",
            "endpoint",
            "state",
            "reason",
            "pending_pause",
            "seconds_in_state",
            "call_id",
            "queue_id",
            "calls_today",
            "skills",
            "phone",
        ],
        "properties": {
            "id": {"type": "string", "examples": ["alice"]},
            "name": {"type": "string"},
            "endpoint": {"type": "string", "examples": ["PJSIP/1001"]},
            "state": {"type": "string", "enum": [state.value for state in AgentState]},
            "reason": {**_NULLABLE_STRING, "description": "Why paused or logged out."},
            "pending_pause": {
                **_NULLABLE_STRING,
                "description": "A pause asked for during a call: starts after the wrap-up.",
            },
            "seconds_in_state": {"type": "number", "minimum": 0},
            "call_id": _NULLABLE_STRING,
            "queue_id": _NULLABLE_STRING,
            "calls_today": {"type": "integer", "minimum": 0},
            "skills": {
                "type": "object",
                "description": "Skill name to level.",
                "additionalProperties": {"type": "integer"},
            },
            "phone": {
                "type": "string",
                "enum": ["online", "offline"],
                "description": "Whether Asterisk can reach the agent's phone (ARI endpoint "
                "state); an offline phone is not rung and its agent shows paused "
                "``unreachable`` until it is back.",
            },
        },
    },
    "Queue": {
        "type": "object",
        "required": [
            "id",
            "name",
            "waiting",
            "offered",
            "longest_wait_seconds",
            "agents_available",
            "agents_logged_in",
        ],
        "properties": {
            "id": {"type": "string", "examples": ["sales"]},
            "name": {"type": "string"},
            "waiting": {"type": "integer", "minimum": 0},
            "offered": {
                "type": "integer",
                "minimum": 0,
                "description": "Callers being offered to an agent right now.",
            },
            "longest_wait_seconds": {"type": "number", "minimum": 0},
            "agents_available": {"type": "integer", "minimum": 0},
            "agents_logged_in": {"type": "integer", "minimum": 0},
        },
    },
    "Status": {
        "type": "object",
        "required": ["at", "worker", "queues", "agents"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "worker": {"type": "string", "description": "The worker that answered."},
            "queues": {"type": "array", "items": {"$ref": "#/components/schemas/Queue"}},
            "agents": {"type": "array", "items": {"$ref": "#/components/schemas/Agent"}},
        },
    },
    "ReasonBody": {
        "type": "object",
        "description": (
            "UTF-8 JSON nested at most 16 levels. The reason is one line of text: no control "
            "characters, line separators or lone surrogates."
        ),
        "additionalProperties": False,
        "properties": {
            "reason": {
                **_NULLABLE_STRING,
                "maxLength": REASON_MAX_LENGTH,
                "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$",
                "examples": ["lunch"],
            }
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_RESPONSES: dict[str, Any] = {
    "BadRequest": _error("`invalid-request`: the body is not JSON or a field is wrong."),
    "Unauthorized": _error("`unauthorized`: no bearer token, or a revoked or unknown one."),
    "Forbidden": _error("`forbidden`: the token's user has no right to this request."),
    "AgentNotFound": _error("`agent-not-found`: no such agent in callcenter.yaml."),
    "UsersUnavailable": _error("`users-unavailable`: the user database did not answer."),
    "TooLarge": _error("`http-error`: the body is larger than 1 MiB."),
}


def _ref(response: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{response}"}


_AGENT_ID = {
    "name": "agent_id",
    "in": "path",
    "required": True,
    "description": "The agent's id in callcenter.yaml.",
    "schema": {"type": "string"},
}


def _agent_operation(
    action: str, summary: str, *, reason: str | None = None, conflict: str | None = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"agent_{action}",
        "tags": ["agents"],
        "summary": summary,
        "description": (
            "Allowed to the shared token, supervisors and admins (`live-control`), and to an "
            "agent user for their own agent only. The answer is the agent after the change."
        ),
        "parameters": [_AGENT_ID],
        "responses": {
            "200": {
                "description": "The agent's state after the change.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Agent"}}},
            },
            "401": _ref("Unauthorized"),
            "403": _ref("Forbidden"),
            "404": _ref("AgentNotFound"),
            "503": _ref("UsersUnavailable"),
        },
    }
    if conflict is not None:
        operation["responses"]["409"] = _error(conflict)
    if reason is not None:
        operation["requestBody"] = {
            "required": False,
            "description": reason,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ReasonBody"}}
            },
        }
        operation["responses"]["400"] = _ref("BadRequest")
        operation["responses"]["413"] = _ref("TooLarge")
    return operation


_PATHS: dict[str, Any] = {
    OPENAPI_PATH: {
        "get": {
            "operationId": "openapi",
            "tags": ["meta"],
            "summary": "This document.",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 description of the API.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/api/status": {
        "get": {
            "operationId": "status",
            "tags": ["status"],
            "summary": "Every queue (waiting callers, longest wait) and every agent's state.",
            "description": "Allowed to the shared token, supervisors and admins (`wallboard`).",
            "responses": {
                "200": {
                    "description": "Queues and agents as they are now.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Status"}}
                    },
                },
                "401": _ref("Unauthorized"),
                "403": _ref("Forbidden"),
                "503": _ref("UsersUnavailable"),
            },
        }
    },
    "/api/agents/{agent_id}/login": {
        "post": _agent_operation("login", "Log the agent in: available for calls."),
    },
    "/api/agents/{agent_id}/logout": {
        "post": _agent_operation(
            "logout",
            "Log the agent out (refused with `agent-busy` during a call).",
            reason="Optional: why the agent logs out.",
            conflict="`agent-busy`: a call is ringing or up on the agent's phone.",
        ),
    },
    "/api/agents/{agent_id}/pause": {
        "post": _agent_operation(
            "pause",
            "Pause the agent: no new calls; during a call the pause starts after wrap-up.",
            reason="Optional: why the agent pauses (shown on the wallboard).",
            conflict="`agent-not-logged-in`: log the agent in first.",
        ),
    },
    "/api/agents/{agent_id}/unpause": {
        "post": _agent_operation(
            "unpause",
            "End the agent's pause.",
            conflict="`agent-not-logged-in`: log the agent in first.",
        ),
    },
}

_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "callcenter API",
        "version": __version__,
        "description": (
            "Agent control and live status of the call center. Send `Authorization: Bearer "
            "<token>`: the shared service token (`api.token` or `$CALLCENTER_API_TOKEN`, full "
            "access) or a user's own token (`callcenter users token NAME`), which acts with "
            "that user's role. Errors are `{code, message, details}`."
        ),
    },
    "security": [{"bearerAuth": []}],
    "tags": [
        {"name": "agents", "description": "Log agents in and out, pause them."},
        {"name": "status", "description": "Queues and agents, live."},
        {"name": "meta", "description": "About the API itself."},
    ],
    "paths": _PATHS,
    "components": {
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "The shared service token, or a user's token.",
            }
        },
        "schemas": _SCHEMAS,
        "responses": _RESPONSES,
    },
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_DOCUMENT)
