"""Values written into Asterisk's config files are read back by Asterisk exactly as written.

``read_conf`` below is a line-for-line model of how Asterisk 22's ``main/config.c``
(``config_text_file_load`` and ``process_text_line``) reads a file: a line ends at '\\n'
(fgets); ';' starts a comment unless written ``\\;``; ``;--`` ... ``--;`` is a block comment
(and a stray ``--;`` silences every later line); bytes below 33 are stripped from both ends;
a line starting with '[' is a section, '#' a directive; otherwise the first '=' splits the
key from the value (``+=`` appends, ``=>`` is the same as '=').

The tests check the secrets we write in clear (manager.conf, cdr_pgsql.conf, the trunk's
pjsip.conf auth) and agents' display names: whatever the config accepts comes back unchanged,
in the section it was written into (``secret: 'X[section]'`` is harmless mid-value), and
whatever would not is refused (issue 19).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from callcenter.config import Agent, AmiSettings, DatabaseSettings, SipSettings, parse_config
from callcenter.dialplan.render import render_files
from callcenter.dialplan.secrets import config_safe
from callcenter.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
Section = tuple[str, list[tuple[str, str]]]


def _blank(char: str) -> bool:
    return ord(char) < 33  # ast_skip_blanks / ast_trim_blanks (UTF-8 bytes >= 0x80 are not)


def _strip(text: str) -> str:
    start, end = 0, len(text)
    while start < end and _blank(text[start]):
        start += 1
    while end > start and _blank(text[end - 1]):
        end -= 1
    return text[start:end]


def _c_string(buf: list[str], start: int) -> str:
    end = start
    while end < len(buf) and buf[end] != "\0":
        end += 1
    return "".join(buf[start:end])


def _c_find(buf: list[str], start: int, char: str) -> int:
    for index in range(start, len(buf)):
        if buf[index] == "\0":
            return -1
        if buf[index] == char:
            return index
    return -1


def _without_comments(line: str, comment: int) -> tuple[str | None, int]:
    """One line after main/config.c's comment handling: (text to process or None, nesting)."""
    buf = [*line, "\n", "\0"]
    at = lambda i: buf[i] if i < len(buf) else "\0"  # noqa: E731
    new = 0
    process: int | None = None if comment else 0
    while (semicolon := _c_find(buf, new, ";")) >= 0:
        if semicolon > new and buf[semicolon - 1] == "\\":
            del buf[semicolon - 1]  # escaped: the backslash goes, ';' stays
            new = semicolon
        elif at(semicolon + 1) == "-" and at(semicolon + 2) == "-" and at(semicolon + 3) != "-":
            buf[semicolon] = "\0"  # ";--" opens a block comment
            new = semicolon + 3
            comment += 1
        elif semicolon >= new + 2 and buf[semicolon - 1] == "-" and buf[semicolon - 2] == "-":
            comment -= 1  # "--;" closes one (below zero: every later line is a comment)
            new = semicolon + 1
            if comment == 0:
                if process is not None:
                    end = process + len(_c_string(buf, process))
                    buf = buf[:end] + buf[new:]
                    new = end
                else:
                    process = new
        elif not comment:
            buf[semicolon] = "\0"
            new = semicolon
        else:
            new = semicolon + 1
    return (None if process is None else _c_string(buf, process)), comment


def read_conf(text: str) -> list[Section]:
    """Sections in order, each with its ``(key, value)`` lines, as Asterisk reads ``text``."""
    sections: list[Section] = []
    comment = 0
    for line in text.split("\n"):
        kept, comment = _without_comments(line, comment)
        cur = _strip(kept or "")
        if not cur:
            continue
        if cur[0] == "[":
            close = cur.find("]")
            assert close > 0, f"no closing ']': {line!r}"
            sections.append((cur[1:close], []))
        elif cur[0] == "#":
            sections.append(("#directive", [("#", cur)]))
        else:
            assert sections, f"a line outside any section: {line!r}"
            escaped = cur[0] == "\\"
            if escaped:
                cur = cur[1:]
            equals = cur.find("=", 1 if escaped else 0)
            if equals < 0:
                continue  # "No '=' (equal sign)": ignored with a warning
            key, value = cur[:equals], cur[equals + 1 :]
            if key.endswith("+"):
                key = key[:-1] + "(+=)"
            if value.startswith(">"):
                value = value[1:]
            sections[-1][1].append((_strip(key), _strip(value)))
    return sections


def values_in(sections: list[Section], section: str, key: str) -> list[str]:
    return [v for name, lines in sections if name == section for k, v in lines if k == key]


# --- the model against what Asterisk documents and does ----------------------------------------


def test_the_model_reads_comments_escapes_and_sections_like_asterisk() -> None:
    text = (
        "[general]\n"
        "a = 1 ; comment\n"
        "b = x\\;y\n"
        "c => z\n"
        ";-- block\n"
        "d = hidden\n"
        "--;\n"
        "e = 2 ;-- inline --; tail\n"
        "[user](+)\n"
        "secret = X[section]\n"
    )
    assert read_conf(text) == [
        ("general", [("a", "1"), ("b", "x;y"), ("c", "z"), ("e", "2  tail")]),
        ("user", [("secret", "X[section]")]),
    ]
    # A stray block-comment end silences the rest of the file.
    assert read_conf("[a]\nk = v--;\n[b]\nk = w\n") == [("a", [("k", "v--;")])]


# --- secrets written in clear ------------------------------------------------------------------


def config_with(**changes: Any) -> Any:
    raw = yaml.safe_load(EXAMPLE.read_text())
    for where, value in changes.items():
        node = raw
        *parents, last = where.split("__")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    return parse_config(raw, "cc.yaml", {})


BASE = config_with()


def test_a_secret_with_brackets_is_read_back_exactly() -> None:
    manager = render_files(
        config_with(asterisk__ami__secret="X[section]"), allow_insecure_defaults=True
    )["manager.conf"]
    sections = read_conf(manager)
    assert [name for name, _ in sections] == ["general", "callcenter"]
    assert values_in(sections, "callcenter", "secret") == ["X[section]"]


@pytest.mark.parametrize(
    "secret",
    ["X\n[section]", "X\r\n[evil]", "x\x00y"],
    ids=["newline-section", "crlf-section", "nul"],
)
def test_a_secret_that_would_start_a_section_is_refused_at_load(secret: str) -> None:
    with pytest.raises(ConfigError, match=r"asterisk\.ami\.secret: the secret contains a control"):
        config_with(asterisk__ami__secret=secret)


@pytest.mark.parametrize(
    "secret",
    ["X;[section]", "pw--;", " padded", "padded ", "back\\slash", "ünïcode"],
)
def test_a_secret_asterisk_would_read_differently_is_refused_at_render(secret: str) -> None:
    config = config_with(asterisk__ami__secret=secret)
    with pytest.raises(ConfigError, match=r"asterisk\.ami\.secret"):
        render_files(config, allow_insecure_defaults=True)
    assert secret not in str(config_safe.__doc__)


clear_secrets = st.text(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.sampled_from(["[", "]", "=", "#", ";", "\\", "-", ">", "+", "\t", "\n", "é"]),
    ),
    min_size=1,
    max_size=24,
)


@settings(max_examples=40)
@given(secret=clear_secrets)
def test_every_secret_written_in_clear_reads_back_exactly(secret: str) -> None:
    try:
        config_safe(secret, "secret")
    except ConfigError:
        return  # refused: never written
    password = "".join(f"%{b:02X}" for b in secret.encode())
    asterisk = BASE.asterisk.model_copy(
        update={"ami": AmiSettings.model_validate({"secret": secret})}
    )
    config = BASE.model_copy(
        update={
            "asterisk": asterisk,
            "database": DatabaseSettings(
                url=f"postgresql://callcenter:{password}@127.0.0.1/callcenter"
            ),
            "sip": SipSettings.model_validate(
                {"trunk": {"host": "sip.example.com", "username": "acme", "secret": secret}}
            ),
        }
    )
    files = render_files(config, allow_insecure_defaults=True)
    manager = read_conf(files["manager.conf"])
    assert [name for name, _ in manager] == ["general", "callcenter"]
    assert values_in(manager, "callcenter", "secret") == [secret]
    assert values_in(read_conf(files["cdr_pgsql.conf"]), "global", "password") == [secret]
    pjsip = read_conf(files["pjsip.conf"])
    assert values_in(pjsip, "trunk", "password") == [secret]
    assert len([name for name, _ in pjsip if name == "trunk"]) == 4  # endpoint, aor, identify, auth


# --- names -------------------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=70)


@settings(max_examples=40)
@given(name=names)
def test_every_agent_name_the_config_accepts_stays_in_its_field(name: str) -> None:
    try:
        agent = Agent.model_validate({**BASE.agents[0].model_dump(), "name": name})
    except ValidationError:
        return
    config = BASE.model_copy(update={"agents": [agent, *BASE.agents[1:]]})
    files = render_files(config, allow_insecure_defaults=True)
    pjsip = read_conf(files["pjsip.conf"])
    assert f'"{agent.name}" <1001>' in values_in(pjsip, "1001", "callerid")
    members = [
        value.split(",")
        for _, lines in read_conf(files["queues.conf"])
        for key, value in lines
        if key == "member" and value.startswith("PJSIP/1001,")
    ]
    assert members
    assert all(member == ["PJSIP/1001", "0", agent.name, "PJSIP/1001"] for member in members)
    extensions = read_conf(files["extensions.conf"])
    assert f"1001,1,NoOp(callcenter: agent {agent.name})" in values_in(
        extensions, "callcenter-agents", "exten"
    )
