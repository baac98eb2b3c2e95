"""The SQLite database holds password hashes and TOTP secrets: only its owner may read it."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from callcenter.db.engine import make_engine, upgrade


def test_a_new_database_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "callcenter.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("select count(*) from users"))
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    engine.dispose()
    assert modes["callcenter.db"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes  # -wal and -shm too


def test_an_existing_readable_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "callcenter.db"
    upgrade(f"sqlite:///{path}")
    for file in tmp_path.iterdir():
        os.chmod(file, 0o644)  # as an earlier version left it
    make_engine(f"sqlite:///{path}").dispose()
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o600}
