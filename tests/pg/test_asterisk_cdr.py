"""cdr_pgsql's ``asterisk_cdr`` table on the real PostgreSQL.

Asterisk 22.10.1 aborts at start (SIGABRT) when cdr_pgsql.conf names a table that does not
exist (../shared/asterisk/README.md): ``callcenter db upgrade`` creates it, and ``dialplan
deploy`` refuses to write a cdr_pgsql.conf while it is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import inspect, text

from callcenter.cli import main
from callcenter.db.engine import current_revision, downgrade, head_revision, make_engine, upgrade

pytestmark = pytest.mark.pg

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
# The columns cdr_pgsql fills (Asterisk's contrib/realtime/postgresql schema).
CDR_PGSQL_COLUMNS = {
    "calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp",
    "lastdata", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid",
    "userfield", "peeraccount", "linkedid", "sequence",
}  # fmt: skip


def has_table(url: str) -> bool:
    engine = make_engine(url)
    try:
        return inspect(engine).has_table("asterisk_cdr")
    finally:
        engine.dispose()


def config_file(tmp_path: Path, url: str) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["database"]["url"] = url
    data["asterisk"]["ari"]["password"] = "ari-Secret-42"
    data["asterisk"]["ami"]["secret"] = "ami-Secret-42"
    data["asterisk"]["config_dir"] = str(tmp_path / "etc")
    data["asterisk"]["sounds_dir"] = str(tmp_path / "sounds")
    data["prompts"] = {}
    for agent in data["agents"]:
        agent["sip_secret"] = f"sip-{agent['id']}-Secret"
    for menu in data["ivr"]["menus"].values():  # no prompts: Asterisk's own sounds only
        for key in ("prompts", "result_prompts"):
            if key in menu:
                menu[key] = ["sound:hello-world"]
        for key in ("invalid_prompt", "timeout_prompt", "failure_prompt"):
            if key in menu:
                menu[key] = "sound:invalid"
        menu.pop("say_as", None)
        for goto in menu.get("choices", {}).values():
            goto.pop("prompt", None)
    data["recordings"]["default"]["consent_prompt"] = "sound:hello-world"
    path = tmp_path / "callcenter.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "etc").mkdir()
    return path


def test_db_upgrade_creates_asterisk_cdr_as_cdr_pgsql_needs_it(pg_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--url", pg_url])
    assert result.exit_code == 0, result.output
    assert "table asterisk_cdr ready for cdr_pgsql" in result.output
    engine = make_engine(pg_url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("asterisk_cdr")}
        assert columns >= CDR_PGSQL_COLUMNS
        # What cdr_pgsql inserts for a call (every column it knows, Asterisk's quoting).
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO asterisk_cdr (calldate, clid, src, dst, dcontext, channel, "
                    "dstchannel, lastapp, lastdata, duration, billsec, disposition, amaflags, "
                    "accountcode, uniqueid, userfield, peeraccount, linkedid, sequence) VALUES "
                    "('2026-11-24 15:19:18', '\"Caller 1\" <+15550001>', '+15550001', '100', "
                    "'callcenter-inbound', 'PJSIP/trunk-0000000b', '', 'Stasis', "
                    "'callcenter,inbound,100', 12, 10, 'ANSWERED', 3, '', '1795533558.26', '', "
                    "'', '1795533558.26', 1)"
                )
            )
            assert conn.execute(text("SELECT count(*) FROM asterisk_cdr")).scalar_one() == 1
    finally:
        engine.dispose()


def test_upgrade_keeps_a_table_made_before_and_puts_back_a_dropped_one(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        upgrade(pg_url, "0004")
        assert not has_table(pg_url)
        with engine.begin() as conn:
            # One made by Asterisk's own schema scripts: start/end, no calldate.
            conn.execute(
                text(
                    'CREATE TABLE asterisk_cdr (start timestamp, "end" timestamp, '
                    "src varchar(80), linkedid varchar(150))"
                )
            )
        upgrade(pg_url)
        columns = {c["name"] for c in inspect(engine).get_columns("asterisk_cdr")}
        assert columns == {"start", "end", "src", "linkedid"}  # kept as it was
        assert current_revision(pg_url) == head_revision()
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE asterisk_cdr"))
        upgrade(pg_url)  # already at head: the explicit step makes it again
        assert has_table(pg_url)
    finally:
        engine.dispose()


def test_downgrade_drops_it_only_while_empty(pg_url: str) -> None:
    upgrade(pg_url)
    downgrade(pg_url, "0004")
    assert not has_table(pg_url)
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO asterisk_cdr (src) VALUES ('+15550001')"))
    finally:
        engine.dispose()
    downgrade(pg_url, "0004")
    assert has_table(pg_url)  # Asterisk's own records are never dropped by us


def test_deploy_refuses_to_write_cdr_pgsql_conf_without_the_table(
    pg_url: str, tmp_path: Path
) -> None:
    config = config_file(tmp_path, pg_url)
    upgrade(pg_url, "0004")  # migrated before the table existed
    runner = CliRunner()
    for extra in (["--dry-run"], ["--no-doctor", "--build-dir", str(tmp_path / "b")]):
        result = runner.invoke(main, ["dialplan", "deploy", "-c", str(config), *extra])
        assert result.exit_code == 1, result.output
        assert "refusing to deploy: cdr_pgsql.conf is rendered, and database asterisk_cdr: " in (
            result.output
        )
        assert "Asterisk 22 aborts at start" in result.output
        assert "fix: callcenter db upgrade" in result.output
        assert list((tmp_path / "etc").iterdir()) == []

    assert runner.invoke(main, ["db", "upgrade", "-c", str(config)]).exit_code == 0
    dry = runner.invoke(main, ["dialplan", "deploy", "-c", str(config), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would write {tmp_path / 'etc' / 'cdr_pgsql.conf'}" in dry.output


async def test_doctor_reports_the_table(pg_url: str, tmp_path: Path) -> None:
    from callcenter.config import load_config
    from callcenter.doctor.local_checks import check_database

    config = load_config(config_file(tmp_path, pg_url), env={})
    upgrade(pg_url)
    checks = {c.name: c for c in await check_database(config)}
    assert checks["asterisk_cdr"].status == "ok"
    assert checks["migrations"].status == "ok"
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE asterisk_cdr"))
    finally:
        engine.dispose()
    checks = {c.name: c for c in await check_database(config)}
    missing = checks["asterisk_cdr"]
    assert missing.status == "fail"
    assert missing.detail.startswith("missing: cdr_pgsql.conf is rendered for this database")
    assert missing.fix == "callcenter db upgrade (creates it)"
