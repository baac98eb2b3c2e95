"""``callcenter agent ...`` and ``callcenter status`` with click's CliRunner against a real API
served from a background thread (the CLI is a plain synchronous HTTP client)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from click.testing import CliRunner

from callcenter.api import make_api_app, serve_api
from callcenter.cli import main
from callcenter.routing.service import AcdService
from callcenter.routing.testing import make_config

TOKEN = "cli-token"


class ApiThread:
    """The API and its ACD service on their own event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.service: AcdService = self.call(self._make_service())
        self.runner, self.port = self.call(
            serve_api(make_api_app(self.service, TOKEN), "127.0.0.1", 0)
        )

    def call(self, coro):  # type: ignore[no-untyped-def]
        future: Future[object] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=5)

    async def _make_service(self) -> AcdService:
        service = AcdService(make_config())
        await service.start()
        return service

    def close(self) -> None:
        self.call(self.runner.cleanup())
        self.call(self.service.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def api() -> Iterator[ApiThread]:
    api = ApiThread()
    yield api
    api.close()


def run(api: ApiThread, *args: str, token: str = TOKEN) -> tuple[int, str, str]:
    runner = CliRunner()
    env = {"CALLCENTER_API_URL": f"http://127.0.0.1:{api.port}/", "CALLCENTER_API_TOKEN": token}
    result = runner.invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_agent_commands_change_the_agent_state(api: ApiThread) -> None:
    assert run(api, "agent", "login", "bill1") == (0, "bill1: available\n", "")
    code, out, _ = run(api, "agent", "pause", "bill1", "--reason", "lunch")
    assert (code, out) == (0, "bill1: paused (lunch)\n")
    code, out, _ = run(api, "agent", "unpause", "bill1", "--json")
    assert code == 0
    assert json.loads(out)["state"] == "available"
    code, out, _ = run(api, "agent", "logout", "bill1")
    assert (code, out) == (0, "bill1: logged_out\n")
    assert api.service.dispatcher.agent_state("bill1").value == "logged_out"


def test_status_prints_queues_and_agents(api: ApiThread) -> None:
    run(api, "agent", "login", "sale1")
    code, out, _ = run(api, "status")
    assert code == 0
    assert "billing" in out and "sales" in out
    assert "sale1: available" in out
    code, out, _ = run(api, "status", "--json")
    status = json.loads(out)
    assert {q["id"] for q in status["queues"]} == {"billing", "sales"}


def test_errors_are_one_line_and_a_non_zero_status(api: ApiThread) -> None:
    code, _, err = run(api, "agent", "login", "nobody")
    assert code == 2
    assert err == "error: no agent 'nobody' (agent-not-found)\n"
    code, _, err = run(api, "agent", "pause", "bill2")
    assert code == 2
    assert "agent-not-logged-in" in err
    code, _, err = run(api, "status", token="wrong")
    assert code == 1
    assert "unauthorized" in err


def test_unreachable_api_is_a_clear_error(tmp_path: object) -> None:
    runner = CliRunner()
    env = {"CALLCENTER_API_URL": "http://127.0.0.1:9/", "CALLCENTER_API_TOKEN": "x"}
    result = runner.invoke(main, ["status"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot reach the API at http://127.0.0.1:9/")
