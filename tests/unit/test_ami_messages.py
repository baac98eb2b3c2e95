"""Typed AMI messages: parsing of responses and EventLists (pure, no I/O)."""

from __future__ import annotations

from callcenter.asterisk.ami_messages import (
    AmiEvent,
    build_response,
    parse_originate,
    parse_pjsip_endpoints,
    parse_queue_status,
    parse_queue_summary,
)


def test_command_output_lines_keep_order() -> None:
    response = build_response(
        "Command",
        [
            (
                ("Response", "Success"),
                ("ActionID", "a2"),
                ("Message", "Command output follows"),
                ("Output", "first"),
                ("Output", "second"),
            )
        ],
    )
    assert response.ok
    assert response.message == "Command output follows"
    assert response.get_all("output") == ["first", "second"]
    assert response.get("ACTIONID") == "a2"


def test_error_and_failure_are_not_ok() -> None:
    for status in ("Error", "Failure", "Fail"):
        assert not build_response("X", [(("Response", status),)]).ok
    assert build_response("Logoff", [(("Response", "Goodbye"),)]).ok


def test_queue_status_items() -> None:
    response = build_response(
        "QueueStatus",
        [
            (("Response", "Success"), ("EventList", "start")),
            (("Event", "QueueParams"), ("Queue", "baseline"), ("Strategy", "linear"),
             ("Calls", "2"), ("Abandoned", "1")),
            (("Event", "QueueMember"), ("Queue", "baseline"), ("Name", "PJSIP/agent1"),
             ("Location", "PJSIP/agent1"), ("Status", "6"), ("Paused", "1"),
             ("PausedReason", "lunch"), ("InCall", "0")),
            (("Event", "QueueStatusComplete"), ("EventList", "Complete"), ("ListItems", "2")),
        ],
    )  # fmt: skip
    status = parse_queue_status(response)
    [queue] = status.queues
    assert (queue.queue, queue.strategy, queue.calls, queue.abandoned) == (
        "baseline",
        "linear",
        2,
        1,
    )
    [member] = status.members_of("baseline")
    assert (member.interface, member.status, member.paused, member.paused_reason) == (
        "PJSIP/agent1", 6, True, "lunch",
    )  # fmt: skip
    assert status.members_of("other") == []


def test_queue_summary_and_endpoints() -> None:
    summary = build_response(
        "QueueSummary",
        [
            (("Response", "Success"),),
            (("Event", "QueueSummary"), ("Queue", "q"), ("LoggedIn", "4"), ("Available", "3"),
             ("Callers", "1"), ("LongestHoldTime", "12")),
        ],
    )  # fmt: skip
    [row] = parse_queue_summary(summary)
    assert (row.logged_in, row.available, row.callers, row.longest_hold_time) == (4, 3, 1, 12)
    endpoints = build_response(
        "PJSIPShowEndpoints",
        [
            (("Response", "Success"),),
            (("Event", "EndpointList"), ("ObjectName", "agent1"),
             ("Contacts", "agent1/sip:agent1@127.0.0.3:5081,"), ("DeviceState", "In use"),
             ("ActiveChannels", "1")),
            (("Event", "EndpointList"), ("ObjectName", "callers"), ("DeviceState", "Unavailable")),
        ],
    )  # fmt: skip
    agent, callers = parse_pjsip_endpoints(endpoints)
    assert agent.contacts == ("agent1/sip:agent1@127.0.0.3:5081",)
    assert (agent.device_state, agent.active_channels) == ("In use", 1)
    assert callers.contacts == ()


def test_event_helpers_and_originate() -> None:
    event = AmiEvent(
        "OriginateResponse",
        (("Event", "OriginateResponse"), ("ActionID", "o1"), ("Response", "Failure"),
         ("Channel", "PJSIP/agent2"), ("Reason", "5"), ("Uniqueid", "<null>")),
    )  # fmt: skip
    assert event.action_id == "o1"
    assert event.as_dict()["Reason"] == "5"
    result = parse_originate(event)
    assert (result.ok, result.reason, result.answered) == (False, 5, False)
