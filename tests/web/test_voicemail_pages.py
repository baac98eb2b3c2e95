"""The voicemail inbox over HTTP: agents of the box's queue and supervisors open it, play,
call back and mark handled; an agent of another queue, QA and strangers get 403."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.auth.model import Role
from callcenter.cdr.store import CdrStore
from callcenter.db.models import Call, CallbackRequest, VoicemailMessage
from callcenter.voicemail.testing import message_records, stored_audio

from .conftest import PASSWORD, Site, write_wav
from .test_web_security import csrf_of, sign_in

LEFT_AT = dt.datetime(2026, 11, 26, 19, 30, tzinfo=dt.UTC)
SALES = "voicemail-sales-" + "e" * 32
BILLING = "voicemail-billing-" + "f" * 32


def store_message(site: Site, name: str, box: str, call_id: str, caller: str) -> None:
    """A message as the recorder and the voicemail service leave it: its call, its recording
    row and file, its message row (through the CDR store, as the writer does)."""
    config = site.deps.config
    path = site.recordings / f"{name}.wav"
    write_wav(path, 2.0)
    with Session(site.users.engine) as session:
        session.add(
            Call(
                call_id=call_id,
                caller_number=caller,
                started_at=LEFT_AT - dt.timedelta(seconds=40),
                updated_at=LEFT_AT,
                disposition="voicemail",
                queue_id=config.mailbox(box).queue,
            )
        )
        session.commit()
    store = CdrStore(str(site.users.engine.url))
    try:
        store.write(message_records(config, box, call_id, caller, LEFT_AT, stored_audio(path)))
    finally:
        store.dispose()


@pytest.fixture
def inbox(site: Site) -> Site:
    # alice: sales 9, support 4 (sales and general boxes); erin: billing only.
    site.users.add("erin", PASSWORD, Role.AGENT, agent_id="erin")
    store_message(site, SALES, "sales", "e" * 32, "+15550001")  # alice's earlier caller
    store_message(site, BILLING, "billing", "f" * 32, "+15550777")
    return site


async def as_user(site: Site, user: str) -> Any:
    site.client.session.cookie_jar.clear()
    assert (await sign_in(site.client, user)).status == 302
    return site.client


async def test_agent_of_the_queue_lists_plays_and_handles(inbox: Site) -> None:
    client = await as_user(inbox, "alice")
    page = await client.get("/voicemail")
    html = await page.text()
    assert page.status == 200
    assert f'data-message="{SALES}"' in html and BILLING not in html
    assert "Sales voicemail" in html

    page = await client.get(f"/voicemail/{SALES}")
    html = await page.text()
    assert page.status == 200
    assert 'id="vm-caller">+15550001<' in html
    # The caller's earlier call (the recorded one of the site) is listed, not this one.
    assert "/calls/" + "c" * 32 in html and "/calls/" + "e" * 32 not in html
    audio = await client.get(f"/voicemail/{SALES}/audio")
    assert audio.status == 200 and audio.headers["Content-Type"] == "audio/wav"
    assert (await audio.read())[:4] == b"RIFF"

    token = csrf_of(html)
    done = await client.post(
        f"/voicemail/{SALES}/callback",
        data={"csrf_token": token, "note": "after 6pm"},
        allow_redirects=False,
    )
    assert done.status == 302 and done.headers["Location"].endswith("?done=callback")
    again = await client.post(
        f"/voicemail/{SALES}/callback", data={"csrf_token": token}, allow_redirects=False
    )
    assert again.status == 409 and "already pending" in await again.text()

    done = await client.post(
        f"/voicemail/{SALES}/handle",
        data={"csrf_token": token, "note": "called back, order re-sent"},
        allow_redirects=False,
    )
    assert done.status == 302
    html = await (await client.get(f"/voicemail/{SALES}?done=handled")).text()
    assert re.search(r'id="vm-status">handled', html)
    assert "called back, order re-sent" in html and 'id="vm-handle"' not in html
    twice = await client.post(
        f"/voicemail/{SALES}/handle", data={"csrf_token": token}, allow_redirects=False
    )
    assert twice.status == 409 and "already handled by alice" in await twice.text()
    # New messages only, by default: the handled one is under "handled".
    assert SALES not in await (await client.get("/voicemail")).text()
    assert SALES in await (await client.get("/voicemail?status=handled")).text()

    with Session(inbox.users.engine) as session:
        message = session.get(VoicemailMessage, SALES)
        assert message is not None and message.handled_by == "alice"
        [callback] = session.scalars(select(CallbackRequest)).all()
        assert (callback.number, callback.status, callback.queue_id) == (
            "+15550001",
            "pending",
            "sales",
        )
        assert callback.requested_by == "alice" and callback.note == "after 6pm"


async def test_agent_of_another_queue_gets_403(inbox: Site) -> None:
    client = await as_user(inbox, "erin")
    html = await (await client.get("/voicemail")).text()
    assert BILLING in html and SALES not in html
    for path in (f"/voicemail/{SALES}", f"/voicemail/{SALES}/audio", "/voicemail?box=sales"):
        response = await client.get(path)
        assert response.status == 403, path
        assert "belongs to another queue" in await response.text()
    token = csrf_of(html)
    for action in ("handle", "callback"):
        response = await client.post(
            f"/voicemail/{SALES}/{action}", data={"csrf_token": token}, allow_redirects=False
        )
        assert response.status == 403
    with Session(inbox.users.engine) as session:
        message = session.get(VoicemailMessage, SALES)
        assert message is not None and message.status == "new"
        assert session.scalars(select(CallbackRequest)).all() == []


async def test_supervisor_sees_every_box_qa_none(inbox: Site) -> None:
    client = await as_user(inbox, "sara")
    html = await (await client.get("/voicemail")).text()
    assert SALES in html and BILLING in html
    assert (await client.get(f"/voicemail/{BILLING}/audio")).status == 200
    assert (await client.get("/voicemail/voicemail-sales-nothing")).status == 404
    client = await as_user(inbox, "quinn")
    assert (await client.get("/voicemail")).status == 403
    assert (await client.get(f"/voicemail/{SALES}")).status == 403


async def test_posts_need_the_csrf_token_and_a_session(inbox: Site) -> None:
    client = await as_user(inbox, "alice")
    response = await client.post(f"/voicemail/{SALES}/handle", data={}, allow_redirects=False)
    assert response.status == 403
    client.session.cookie_jar.clear()
    response = await client.get("/voicemail", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")
