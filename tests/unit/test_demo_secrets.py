"""The demo's written config: readable by its owner only, one random value per secret."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from callcenter.config import weak_secret_problem
from callcenter.demo import DemoOptions, DemoSecrets, demo_config


def test_the_demo_config_is_private_and_its_secrets_distinct(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    state.mkdir()
    (state / "callcenter.yaml").write_text("old\n")
    os.chmod(state / "callcenter.yaml", 0o644)  # left by an older demo
    keys = DemoSecrets.generate()
    config, path = demo_config(
        DemoOptions(state_dir=state),
        "http://127.0.0.1:1/",
        2,
        "http://127.0.0.1:3/orders/{value}",
        keys,
    )
    assert path.stat().st_mode & 0o777 == 0o600
    values = [
        config.asterisk.ari.password,
        config.asterisk.ami.secret,
        config.api.token,
        config.web.session_secret,
    ]
    assert values == [keys.ari_password, keys.ami_secret, keys.api_token, keys.session_secret]
    assert len(set(values)) == 4
    assert all(weak_secret_problem(str(v)) is None for v in values)
    written = yaml.safe_load(path.read_text())
    assert written["api"]["token"] == keys.api_token
    assert written["web"]["session_secret"] == keys.session_secret
    assert DemoSecrets.generate() != keys
