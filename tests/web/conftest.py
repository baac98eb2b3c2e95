"""A web app on loopback with a real SQLite database, real users and a recorded call.

The live side (queues, agents) comes from ``StaticCallCenter``: a plain in-memory stand-in for
the ACD service, used only where a test is about the pages' security, not about Asterisk.
"""

from __future__ import annotations

import datetime as dt
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import Session

from callcenter.auth.model import LockoutPolicy, Role
from callcenter.config import parse_config
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import Call, Recording
from callcenter.db.users import UserStore
from callcenter.web.app import WebDeps, add_web_routes
from callcenter.web.security import SessionCodec, SignInRateLimit
from callcenter.web.voicemail import add_voicemail_routes

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
PASSWORD = "long enough secret"
SESSION_SECRET = "web-test-session-secret-0123456789abcdefghijklmnop"


@dataclass
class StaticCallCenter:
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    listened: list[tuple[str, str, str]] = field(default_factory=list)

    def status(self) -> dict[str, Any]:
        return {
            "queues": [{"queue_id": "sales", "waiting": 1, "longest_wait": 12.0}],
            "agents": list(self.agents.values()),
        }

    def agent_call(self, agent_id: str) -> dict[str, Any] | None:
        return self.calls.get(agent_id)

    async def login(self, agent_id: str) -> dict[str, Any]:
        self.agents[agent_id]["state"] = "available"
        return self.agents[agent_id]

    async def logout(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        self.agents[agent_id]["state"] = "logged_out"
        return self.agents[agent_id]

    async def pause(self, agent_id: str, reason: str | None = None) -> dict[str, Any]:
        self.agents[agent_id].update(state="paused", reason=reason)
        return self.agents[agent_id]

    async def unpause(self, agent_id: str) -> dict[str, Any]:
        self.agents[agent_id].update(state="available", reason=None)
        return self.agents[agent_id]

    async def listen(self, call_id: str, endpoint: str, mode: str) -> dict[str, Any]:
        self.listened.append((call_id, endpoint, mode))
        return {"call_id": call_id, "mode": mode}


@dataclass
class Site:
    client: TestClient[Any, Any]
    users: UserStore
    live: StaticCallCenter
    recordings: Path
    deps: WebDeps


def write_wav(path: Path, seconds: float = 0.5) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * int(8000 * seconds))


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["web"] = {
        "session_secret": SESSION_SECRET,
        "sign_in_attempts_per_minute": 50,
        "supervisor_endpoint": "PJSIP/2001",
    }
    config = parse_config(raw, env={})
    url = f"sqlite:///{tmp_path / 'web.db'}"
    upgrade(url)
    engine = make_engine(url)
    users = UserStore(
        engine, LockoutPolicy(max_failures=3, lock_minutes=15), totp_key=SESSION_SECRET
    )
    users.add("alice", PASSWORD, Role.AGENT, agent_id="alice")
    users.add("bob", PASSWORD, Role.AGENT, agent_id="bob")
    users.add("quinn", PASSWORD, Role.QA)
    users.add("sara", PASSWORD, Role.SUPERVISOR)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    now = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    with Session(engine) as session:
        for call_id, agent in (("c" * 32, "alice"), ("d" * 32, "bob")):
            session.add(
                Call(
                    call_id=call_id,
                    caller_number="+15550001",
                    started_at=now,
                    updated_at=now,
                    agent_id=agent,
                    queue_id="sales",
                    disposition="answered",
                    ivr_path=[["main", now.isoformat()], ["existing", now.isoformat()]],
                    digits=["1", "2"],
                    talk_seconds=42.0,
                    recording_name=f"rec-{agent}",
                )
            )
            session.flush()
            write_wav(recordings / f"rec-{agent}.wav")
            session.add(
                Recording(
                    name=f"rec-{agent}",
                    call_id=call_id,
                    agent_id=agent,
                    started_at=now,
                    format="wav",
                    storage_url=str(recordings / f"rec-{agent}.wav"),
                )
            )
        session.commit()
    live = StaticCallCenter(
        agents={
            a: {"agent_id": a, "name": a.title(), "state": "logged_out", "call_id": None}
            for a in ("alice", "bob")
        }
    )
    app = web.Application()
    deps = WebDeps(
        config=config,
        users=users,
        live=live,
        recordings_dir=recordings,
        codec=SessionCodec(SESSION_SECRET, 3600),
        rate_limit=SignInRateLimit(50),
    )
    add_web_routes(app, deps)
    add_voicemail_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Site(client, users, live, recordings, deps)
    finally:
        await client.close()
        engine.dispose()
