"""The simulated AMI's CLI answers the doctor reads, in Asterisk 22's own words and layout."""

from __future__ import annotations

import re
from pathlib import Path

from callcenter.config import load_config
from callcenter.dialplan.render import render_files
from callcenter.doctor.ami_checks import REQUIRED_READ, REQUIRED_WRITE
from callcenter.sim.ami_server import AmiServer
from callcenter.sim.extensions_conf import parse_extensions_conf
from callcenter.sim.pbx import SimulatedAsterisk, Stasis

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
TEMPLATE = Path(__file__).resolve().parents[2] / "dialplan" / "manager.conf.j2"


def rendered_extensions() -> str:
    config = load_config(EXAMPLE, env={})
    return render_files(config, allow_insecure_defaults=True)["extensions.conf"]


def test_dialplan_show_prints_like_pbx_config() -> None:
    server = AmiServer()
    server.extensions = parse_extensions_conf(rendered_extensions())
    result = server.cli_result("dialplan show 100@callcenter-inbound")
    assert result.success
    lines = result.output
    assert lines[0] == "[ Context 'callcenter-inbound' created by 'pbx_config' ]"
    # "  %-17s %-45s [%s:%d]": the extension on the first priority only.
    assert re.fullmatch(
        r"  '100' =>          1\. NoOp\(callcenter: 100 to IVR menu main\)\s+"
        r"\[extensions\.conf:\d+\]",
        lines[1],
    )
    assert lines[2].startswith(" " * 20 + "2. Stasis(callcenter,inbound,100)")
    assert lines[-2:] == ["", "-= 1 extension (4 priorities) in 1 context. =-"]

    missing = server.cli_result("dialplan show 555@callcenter-inbound")
    assert not missing.success
    assert missing.output == ["There is no existence of 555@callcenter-inbound extension"]
    no_context = server.cli_result("dialplan show nope")
    assert no_context.output == ["There is no existence of 'nope' context"]
    whole = server.cli_result("dialplan show callcenter-agents")
    assert whole.output[-1] == "-= 8 extensions (24 priorities) in 1 context. =-"


def test_dialplan_show_without_a_file_lists_the_core_routes() -> None:
    pbx = SimulatedAsterisk()
    pbx.dialplan.route("100", Stasis("callcenter", "ivr"))
    server = AmiServer(pbx)
    lines = server.cli_result("dialplan show 100@from-callers").output
    assert lines[1].startswith("  '100' =>          1. Stasis(callcenter,ivr)")


def test_manager_show_user_lists_the_classes_in_managers_order() -> None:
    server = AmiServer(username="callcenter")
    lines = server.cli_result("manager show user callcenter").output
    assert lines[:2] == ["", "          username: callcenter"]
    assert "         read perm: system,call,agent,user,dtmf,reporting,cdr,dialplan" in lines
    assert "        write perm: call,command,agent,user,reporting,originate" in lines
    assert server.cli_result("manager show user bob").output == ["There is no manager called bob"]


def test_the_doctor_asks_for_what_the_rendered_manager_conf_grants() -> None:
    template = TEMPLATE.read_text()
    read = re.search(r"^read = (.+)$", template, re.MULTILINE)
    write = re.search(r"^write = (.+)$", template, re.MULTILINE)
    assert read and write
    assert set(read.group(1).split(",")) == REQUIRED_READ
    assert set(write.group(1).split(",")) == REQUIRED_WRITE
    server = AmiServer()
    assert server.read_perm == REQUIRED_READ and server.write_perm == REQUIRED_WRITE
