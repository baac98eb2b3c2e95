"""Free text from the pages is checked before the ACD service sees it (issue 19).

A pause reason the database cannot hold (too long for ``agents.pause_reason``, NUL, a line
break) was accepted in memory and lost when written.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from callcenter.auth.model import Role

from .conftest import PASSWORD, Site


async def signed_in(client: TestClient[Any, Any], user: str, page: str) -> str:
    """Sign ``user`` in; the CSRF token of ``page``."""
    login = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await login.text())
    assert token
    reply = await client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": user, "password": PASSWORD},
        allow_redirects=False,
    )
    assert reply.status == 302
    html = await (await client.get(page)).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    return token.group(1)


@pytest.mark.parametrize(
    ("reason", "says"),
    [
        pytest.param("x" * 65, "too long", id="65-characters"),
        pytest.param("night\x00shift", "control character", id="nul"),
        pytest.param("a\u2028b", "separator", id="line-separator"),
    ],
)
async def test_a_pause_reason_that_cannot_be_kept_is_refused(
    site: Site, reason: str, says: str
) -> None:
    csrf = await signed_in(site.client, "alice", "/agent")
    reply = await site.client.post(
        "/agent/state",
        data={"csrf_token": csrf, "action": "pause", "reason": reason},
        allow_redirects=False,
    )
    assert reply.status == 400
    assert says in await reply.text()
    assert site.live.agents["alice"]["state"] == "logged_out"


async def test_the_pause_field_says_its_limit(site: Site) -> None:
    await signed_in(site.client, "alice", "/agent")
    html = await (await site.client.get("/agent")).text()
    assert 'id="pause-reason" maxlength="64"' in html


async def test_a_force_pause_reason_fits_the_column(site: Site) -> None:
    name = "s" * 64  # the longest user name the users table holds
    site.users.add(name, PASSWORD, Role.SUPERVISOR)
    csrf = await signed_in(site.client, name, "/wallboard")
    await site.client.post("/wallboard/agents/bob/pause", data={"csrf_token": csrf})
    assert site.live.agents["bob"]["state"] == "paused"
    reason = site.live.agents["bob"]["reason"]
    assert reason.startswith("by supervisor sss") and len(reason) == 64


async def test_the_crm_link_carries_the_caller_id_encoded(site: Site) -> None:
    # The caller id comes from the network (a SIP From header): it must stay one query value.
    site.live.calls["alice"] = {
        "call_id": "c" * 32,
        "queue_id": "sales",
        "caller_number": "+1555&admin=1#x",
    }
    await signed_in(site.client, "alice", "/agent")
    html = await (await site.client.get("/agent")).text()
    assert 'href="https://crm.example.com/search?phone=%2B1555%26admin%3D1%23x"' in html


def test_the_config_allows_exactly_the_placeholders_the_pages_fill_in() -> None:
    from callcenter.config import CRM_PLACEHOLDERS
    from callcenter.web.links import CRM_PLACEHOLDERS as FILLED_IN

    assert {f"{{{name}}}" for name in CRM_PLACEHOLDERS} == set(FILLED_IN)
