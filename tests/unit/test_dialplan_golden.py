"""Golden files: the example config rendered, byte for byte (tests/golden/dialplan/).

After an intended change to a template or to render.py, regenerate them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_dialplan_golden.py
    git diff tests/golden/dialplan

(The example's secrets are its placeholders, rendered with --allow-insecure-defaults and no
environment, so the files do not depend on who runs the tests.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from callcenter.config import load_config
from callcenter.dialplan.check import check_files
from callcenter.dialplan.render import CORE_FILES, render_files

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "dialplan"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def rendered() -> dict[str, str]:
    config = load_config(ROOT / "examples" / "callcenter.yaml", env={})
    return render_files(config, allow_insecure_defaults=True)


@pytest.mark.parametrize("name", CORE_FILES)
def test_rendered_example_matches_the_golden_file(name: str) -> None:
    text = rendered()[name]
    golden = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"missing {golden}: run with UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{name} differs from {golden}; if intended, regenerate with UPDATE_GOLDEN=1"
    )


def test_golden_files_lint_clean_and_nothing_else_is_there() -> None:
    files = {p.name: p.read_text(encoding="utf-8") for p in GOLDEN.glob("*.conf")}
    assert sorted(files) == sorted(CORE_FILES)
    assert check_files(files) == []
