"""``callcenter agent login|logout|pause|unpause AGENT`` and ``callcenter status``.

Thin click commands over the HTTP API of a running worker (``callcenter.api``): the worker
holds the live queues, so the CLI asks it rather than guessing from the database. The API's
URL and bearer token come from ``--api-url`` / ``--token``, else $CALLCENTER_API_URL /
$CALLCENTER_API_TOKEN, else the config's ``api`` section.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import click

from callcenter.cli import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    config_option,
    echo_json,
    fail,
    json_option,
    load,
)

API_URL_ENV = "CALLCENTER_API_URL"
API_TOKEN_ENV = "CALLCENTER_API_TOKEN"
REQUEST_TIMEOUT = 5.0


@dataclass(frozen=True)
class ApiTarget:
    url: str
    token: str


def resolve_api(config_path: str | None, api_url: str | None, token: str | None) -> ApiTarget:
    """Where the API is and the token to use: options, then environment, then config."""
    url = api_url or os.environ.get(API_URL_ENV)
    token = token or os.environ.get(API_TOKEN_ENV)
    if not url or not token:
        api = load(config_path).api
        url = url or api.url or f"http://{api.host}:{api.port}/"
        token = token or api.token
    if not token:
        fail(
            f"no API token: use --token, ${API_TOKEN_ENV} or api.token in the config",
            EXIT_BAD_INPUT,
        )
    return ApiTarget(url=url if url.endswith("/") else url + "/", token=token)


def call_api(target: ApiTarget, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One JSON request; an error answer or no answer ends the command with one line."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        target.url + path.lstrip("/"),
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {target.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            problem = json.loads(exc.read())
            message = f"{problem['message']} ({problem['code']})"
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {exc.code} {exc.reason}"
        status = EXIT_BAD_INPUT if exc.code in (400, 404, 409) else EXIT_FAILURE
        fail(message, status)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        fail(f"cannot reach the API at {target.url}: {reason}")


def api_options(func: Any) -> Any:
    func = click.option(
        "--token", default=None, help=f"API bearer token [default: ${API_TOKEN_ENV} or config]"
    )(func)
    func = click.option(
        "--api-url", default=None, help=f"API base URL [default: ${API_URL_ENV} or config]"
    )(func)
    return config_option(func)


def describe_agent(agent: dict[str, Any]) -> str:
    reason = f" ({agent['reason']})" if agent.get("reason") else ""
    return f"{agent['id']}: {agent['state']}{reason}"


# Explicit types (not decorated functions) so mypy knows them where cli.py imports them.
agent: click.Group = click.Group(
    "agent",
    help="Log agents in and out, pause and unpause them (through the running worker's API).",
)


def _agent_command(action: str, with_reason: bool, help_text: str) -> None:
    def command(
        agent_id: str,
        config_path: str | None,
        api_url: str | None,
        token: str | None,
        as_json: bool,
        reason: str | None = None,
    ) -> None:
        target = resolve_api(config_path, api_url, token)
        body = {"reason": reason} if reason else None
        result = call_api(target, "POST", f"api/agents/{agent_id}/{action}", body)
        if as_json:
            echo_json(result)
        else:
            click.echo(describe_agent(result))

    command.__doc__ = help_text
    decorated: Any = command
    if with_reason:
        decorated = click.option("--reason", default=None, help="Why (shown to supervisors).")(
            decorated
        )
    decorated = json_option(decorated)
    decorated = api_options(decorated)
    decorated = click.argument("agent_id", metavar="AGENT")(decorated)
    agent.command(action, help=help_text)(decorated)


_agent_command("login", False, "Log AGENT in: they start taking calls.")
_agent_command("logout", True, "Log AGENT out.")
_agent_command("pause", True, "Pause AGENT (no new calls), with an optional --reason.")
_agent_command("unpause", False, "End AGENT's pause.")


def format_status(status: dict[str, Any]) -> str:
    """The supervisor's view as text: one line per queue, then one per agent."""
    lines = [f"queues at {status.get('at', '')}:"]
    for queue in status.get("queues", []):
        lines.append(
            f"  {queue['id']:<16} waiting {queue['waiting']:>3}  "
            f"longest {queue['longest_wait_seconds']:>6.1f}s  "
            f"agents available {queue['agents_available']}/{queue['agents_logged_in']}"
        )
    lines.append("agents:")
    for agent_row in status.get("agents", []):
        call = f"  call {agent_row['call_id']}" if agent_row.get("call_id") else ""
        lines.append(f"  {describe_agent(agent_row)}{call}")
    return "\n".join(lines)


@api_options
@json_option
def _status(config_path: str | None, api_url: str | None, token: str | None, as_json: bool) -> None:
    """Show queues (callers waiting, longest wait) and every agent's state, live."""
    target = resolve_api(config_path, api_url, token)
    result = call_api(target, "GET", "api/status")
    if as_json:
        echo_json(result)
    else:
        click.echo(format_status(result))


status: click.Command = click.command("status")(_status)
