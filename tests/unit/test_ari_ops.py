"""The lean ARI request path: operations read from the api-docs, checked like aioswagger11."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from callcenter.asterisk.ari_ops import operations_from
from callcenter.sim import ari_docs

BASE = "http://pbx.example:8088/ari"


def operations() -> dict:  # type: ignore[type-arg]
    resources = {
        name: SimpleNamespace(json={"api_declaration": ari_docs.api_declaration(name, BASE)})
        for name in ("channels", "bridges", "events")
    }
    return operations_from(resources)


def test_every_rest_operation_is_known_and_the_websocket_is_not() -> None:
    ops = operations()
    assert ("channels", "answer") in ops and ("bridges", "addChannel") in ops
    assert not [key for key in ops if key[0] == "events" and key[1] == "eventWebsocket"]
    answer = ops[("channels", "answer")]
    assert (answer.method, answer.uri, answer.host) == (
        "POST",
        f"{BASE}/channels/{{channelId}}/answer",
        "pbx.example",
    )


def test_a_request_fills_the_path_quotes_it_and_joins_lists() -> None:
    create = operations()[("channels", "create")]
    url, query, body = create.request(
        {"endpoint": "PJSIP/1001", "app": "cc", "appArgs": ["agent", "c1"], "channelId": None}
    )
    assert url == f"{BASE}/channels/create"
    assert query == {"endpoint": "PJSIP/1001", "app": "cc", "appArgs": "agent,c1"}
    dial = operations()[("channels", "dial")]
    url, query, _ = dial.request({"channelId": "a b/c", "timeout": 15})
    assert url == f"{BASE}/channels/a+b%2Fc/dial" and query == {"timeout": "15"}
    record = operations()[("bridges", "record")]
    _, query, _ = record.request(
        {"bridgeId": "b1", "name": "n", "format": "wav", "beep": True, "ifExists": "fail"}
    )
    assert query["beep"] == "true"
    assert body is None


def test_missing_and_unknown_parameters_are_refused_like_aioswagger() -> None:
    create = operations()[("channels", "create")]
    with pytest.raises(TypeError, match="Missing required parameter 'endpoint'"):
        create.request({"app": "cc"})
    with pytest.raises(TypeError, match="does not have parameter 'colour'"):
        create.request({"endpoint": "PJSIP/1", "app": "cc", "colour": "red"})
