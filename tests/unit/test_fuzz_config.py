"""Fuzzing the config loader with mutated copies of the example (Hypothesis, a small budget).

Lines are deleted, repeated, re-indented, cut, or get hostile values (control characters,
';', '[', huge numbers, ``${SECRETS}``, aliases, deep nesting). Whatever comes out, loading
either succeeds or raises ConfigError with one ``file: key: message`` line per problem, short,
and without a secret; a config that loads renders Asterisk files that our linter accepts.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.config import load_config
from callcenter.dialplan.check import check_files
from callcenter.dialplan.render import render_files
from callcenter.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
LINES = EXAMPLE.read_text().splitlines()
SECRETS = {
    "ARI_PASSWORD": "SECRETari7731",
    "AMI_SECRET": "SECRETami7731",
    "CALLCENTER_DB_URL": "postgresql://cc:SECRETdb7731@127.0.0.1/cc",
    "TOKEN": "SECRETtok7731\n",
}
MAX_LINE = 300
"""An error line names the file, the key and the problem: never a whole value."""

hostile_scalars = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(
        [
            "127.0.0.1\n",
            "X[section]",
            "a;b",
            "${AMI_SECRET}",
            "${TOKEN}",
            "${NOT_SET}",
            "x" * 5000,
            "http://h/{caller}\nX",
            "PJSIP/1001\n",
            "sound:x\n",
            "010.0.0.1",
        ]
    ),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
hostile_lines = st.sampled_from(
    [
        "asterisk:",
        "queues:",
        "  sales:",
        "x: &a [1, 2, 3]",
        "y: [*a, *a, *a]",
        "<<: *a",
        "  - *a",
        "name: ${AMI_SECRET}",
        "a: " + "[" * 80 + "]" * 80,
        "  crm_link: ftp://x/{phone}",
        "      1: {menu: main}",
        "\t",
        "---",
        "%TAG ! tag:x,2000:",
        "!!python/object:os.system ls",
    ]
)


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "repeat", "value", "value", "insert", "indent"]))
        if action == "delete":
            del lines[at]
        elif action == "repeat":
            lines.insert(at, lines[at])
        elif action == "insert":
            lines.insert(at, draw(hostile_lines))
        elif action == "indent":
            lines[at] = " " * draw(st.integers(0, 6)) + lines[at].lstrip()
        elif ": " in lines[at]:
            key = lines[at].split(": ", 1)[0]
            value = draw(hostile_scalars)
            written = json.dumps(value) if draw(st.booleans()) else str(value)
            lines[at] = f"{key}: {written}"
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_example())
def test_mutated_configs_load_or_fail_cleanly(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("fuzz") / "cc.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config(path, env=SECRETS)
    except ConfigError as exc:
        lines = exc.message.splitlines()
        assert lines, "an error without a message"
        for line in lines:
            assert line.startswith(f"{path}: "), line
            assert len(line) <= MAX_LINE, line
            assert "SECRET" not in line, line
        return
    try:
        files = render_files(config, allow_insecure_defaults=True)
    except ConfigError as exc:
        assert "SECRET" not in exc.message, exc.message
        assert all(len(line) <= MAX_LINE for line in exc.message.splitlines()), exc.message
        return
    assert check_files(files) == []
