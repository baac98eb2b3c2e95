"""Installing prints no setuptools deprecation about ``project.license``: the license is an SPDX
expression (PEP 639), which needs setuptools 77 or newer to build."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_license_is_an_spdx_string_with_a_setuptools_that_reads_it() -> None:
    data = tomllib.loads(PYPROJECT.read_text())
    # A table ({text = ...}) makes setuptools >= 77 print ~30 lines of deprecation warnings.
    assert data["project"]["license"] == "Apache-2.0"
    assert "License ::" not in " ".join(data["project"].get("classifiers", []))
    [setuptools] = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    floor = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools)
    assert floor is not None and int(floor.group(1)) >= 77, setuptools
