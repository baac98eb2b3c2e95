"""The extensions.conf / .conf linter finds what would break or mislead Asterisk."""

from __future__ import annotations

import pytest

from callcenter.dialplan.check import (
    balance_problem,
    check_extensions,
    check_files,
    parse_extensions,
    split_arguments,
    strip_comment,
)

GOOD = """
[general]
static = yes

[globals]
APP = callcenter

[inbound]
exten => 100,1,NoOp(hello)
 same => n(enter),Stasis(callcenter,inbound,100)
 same => n,GotoIf($["${STASISSTATUS}" = "FAILED"]?fallback,s,1:enter)
 same => n,Hangup()
exten => _X.,1,Goto(fallback,s,1)
exten => 200,hint,PJSIP/200

[fallback]
include => inbound
exten => s,1,Queue(support,,,,600) ; comment
 same => n,Playback(tt-allbusy&vm-goodbye)
 same => n,Set(X=a\\;b)
 same => n,Hangup
"""


def messages(text: str) -> list[str]:
    return [issue.message for issue in check_extensions(text)]


def test_a_good_dialplan_has_no_issues() -> None:
    assert messages(GOOD) == []
    plan = parse_extensions(GOOD)
    steps = plan.steps("inbound", "100")
    assert [(s.priority, s.label, s.app) for s in steps] == [
        (1, None, "NoOp"),
        (2, "enter", "Stasis"),
        (3, None, "GotoIf"),
        (4, None, "Hangup"),
    ]
    assert plan.contexts["general"].settings == {"static": "yes"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exten => 1,1,NoOp()", "outside any [context]"),
        ("[a b]\nexten => 1,1,NoOp()", "malformed context header"),
        ("[c]\nexten => 1,1,NoOp()\n[c]\nexten => 2,1,NoOp()", "defined twice"),
        ("[c]\nsame => n,NoOp()", "same => without an exten"),
        ("[c]\nexten => 1,n,NoOp()", "has no priority before"),
        ("[c]\nexten => 1,x,NoOp()", "invalid priority 'x'"),
        ("[c]\nexten => 1,1", "invalid priority"),
        ("[c]\nexten => 1,2,NoOp()", "has no priority 1"),
        ("[c]\nexten => 1,1,NoOp()\nexten => 1,1,Answer()", "duplicate priority 1"),
        ("[c]\nexten => 1,1(a),NoOp()\n same => n(a),NoOp()", "duplicate label 'a'"),
        ("[c]\nexten => 1,1,NoOp(a(b)", "unbalanced"),
        ("[c]\nexten => 1,1,Set(X=${Y)", "unbalanced"),
        ("[c]\nexten => 1,1,NoOp(a)b)", "unbalanced"),
        ("[c]\nexten => 1,1,Set(X=$[1+1)", "unbalanced"),
        ("[c]\nexten => 1,1,No Op(x)", "expected App(args)"),
        ("[c]\ninclude => nowhere", "includes unknown context 'nowhere'"),
        ("[c]\nexten => 1,1,Goto(nowhere,s,1)", "unknown context 'nowhere'"),
        ("[c]\nexten => 1,1,GotoIf($[1]?c,2,1)", "unknown '2' in [c]"),
        ("[c]\nfoo bar", "expected exten =>"),
        ("[general]\nnot a setting", "expected 'name = value'"),
        ("[c]\nexten => 1 2,1,NoOp()", "invalid extension name"),
    ],
)
def test_problems_are_reported_with_their_line(text: str, expected: str) -> None:
    issues = check_extensions(text)
    assert any(expected in issue.message for issue in issues), issues
    assert all(issue.line >= 1 for issue in issues)


def test_known_external_contexts_may_be_included() -> None:
    assert check_extensions("[c]\ninclude => from-sip", known_contexts={"from-sip"}) == []


def test_helpers() -> None:
    assert strip_comment("a = b ; c") == "a = b"
    assert strip_comment("a = b\\;c ; d") == "a = b\\;c"
    assert balance_problem("${A}$[1]((x))") is None
    assert balance_problem("(]") == "unbalanced ']'"
    assert balance_problem("\\(") is None
    assert split_arguments("a,${F(x,y)},c") == ["a", "${F(x,y)}", "c"]


def test_other_conf_files_and_pjsip_references() -> None:
    pjsip = """
[1001]
type = endpoint
auth = 1001
aors = 1002

[1001]
type = auth

[t]
protocol = udp
"""
    issues = [str(i) for i in check_files({"pjsip.conf": pjsip, "http.conf": "enabled = yes\n"})]
    assert "pjsip.conf:2: endpoint [1001] aors '1002' is not defined" in issues
    assert "pjsip.conf:10: [t] needs exactly one type =" in issues
    assert "http.conf:1: setting outside any [section]: 'enabled = yes'" in issues
