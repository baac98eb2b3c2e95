"""docker/: the compose file's structure and the Dockerfiles' syntax (no Docker engine here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.config import load_config
from callcenter.dialplan.check import check_files
from callcenter.dialplan.render import render_files

DOCKER = Path(__file__).resolve().parents[2] / "docker"
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    return data


def test_services_and_their_wiring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "setup", "asterisk", "worker"}
    assert set(compose["volumes"]) == {"pgdata", "asterisk-config", "asterisk-prompts"}
    # Asterisk starts once the files are rendered; the worker once Asterisk and PG are healthy.
    assert services["asterisk"]["depends_on"]["setup"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["worker"]["depends_on"] == {
        "asterisk": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert services["worker"]["network_mode"] == "service:asterisk"
    assert "ports" not in services["worker"]  # a shared network namespace cannot publish


def test_published_ports(compose: dict[str, Any]) -> None:
    ports = compose["services"]["asterisk"]["ports"]
    assert "5060:5060/udp" in ports
    rtp = next(p for p in ports if p.startswith("10000-"))
    rtp_conf = (DOCKER / "asterisk" / "rtp.conf").read_text()
    assert "rtpstart = 10000" in rtp_conf and "rtpend = 10099" in rtp_conf
    assert rtp == "10000-10099:10000-10099/udp"
    assert not any("5038" in p or "8088" in p for p in ports)  # AMI and ARI stay inside


@pytest.mark.parametrize("service", ["postgres", "asterisk", "worker"])
def test_long_running_services_have_healthchecks(compose: dict[str, Any], service: str) -> None:
    check = compose["services"][service]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert {"interval", "timeout", "retries"} <= set(check)


def test_volumes_mount_the_rendered_files_where_the_config_says(compose: dict[str, Any]) -> None:
    config = load_config(DOCKER / "callcenter.yaml", env={})
    mount = f"asterisk-config:{config.asterisk.config_dir}"
    for name in ("setup", "asterisk", "worker"):
        assert mount in compose["services"][name]["volumes"]
    setup_command = " ".join(compose["services"]["setup"]["command"])
    assert f"--out {config.asterisk.config_dir}" in setup_command
    assert "callcenter db upgrade" in setup_command  # also creates cdr_pgsql's asterisk_cdr
    # Our prompts: installed by setup where the config says, played by Asterisk from its own
    # sounds/en/callcenter/ (the same volume).
    assert "callcenter prompts install" in setup_command
    assert config.prompts and {p.language for p in config.prompts.values()} == {"en"}
    prompts_dir = f"{config.asterisk.sounds_dir}/en/callcenter"
    assert f"asterisk-prompts:{prompts_dir}" in compose["services"]["setup"]["volumes"]
    assert (
        "asterisk-prompts:/var/lib/asterisk/sounds/en/callcenter:ro"
        in compose["services"]["asterisk"]["volumes"]
    )
    for name in ("setup", "worker"):
        assert (
            "./callcenter.yaml:/etc/callcenter/callcenter.yaml:ro"
            in (compose["services"][name]["volumes"])
        )
        env = compose["services"][name]["environment"]
        assert env["CALLCENTER_CONFIG"] == "/etc/callcenter/callcenter.yaml"
        assert {"ARI_PASSWORD", "AMI_SECRET", "POSTGRES_PASSWORD"} <= set(env)
    assert compose["services"]["postgres"]["environment"]["POSTGRES_DB"] == "callcenter"


def test_build_contexts_and_dockerfiles_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        build = service.get("build")
        if build is None:
            continue
        context = (DOCKER / build["context"]).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), (name, dockerfile)


@pytest.mark.parametrize(
    ("dockerfile", "context"),
    [("asterisk/Dockerfile", "asterisk"), ("callcenter/Dockerfile", "..")],
)
def test_dockerfile_syntax(dockerfile: str, context: str) -> None:
    text = (DOCKER / dockerfile).read_text()
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    assert lines[0].split()[0] in {"FROM", "ARG"}
    for line in lines:
        assert line.split()[0] in INSTRUCTIONS, line
    for line in lines:
        words = line.split()
        if words[0] == "COPY" and not any(w.startswith("--from") for w in words):
            for source in words[1:-1]:
                assert (DOCKER / context / source).exists(), source
    # A line ending in a backslash must be followed by more of the same instruction.
    assert not text.rstrip().endswith("\\")


def test_entrypoint_is_a_posix_shell_script() -> None:
    script = (DOCKER / "asterisk" / "entrypoint.sh").read_text()
    assert script.startswith("#!/bin/sh\n")
    assert "set -eu" in script
    assert "exec /usr/sbin/asterisk -f" in script


def test_the_docker_config_renders_and_lints_clean() -> None:
    config = load_config(DOCKER / "callcenter.yaml", env={})
    assert config.database.url.startswith("postgresql+psycopg://callcenter:")
    files = render_files(config, allow_insecure_defaults=True)
    assert "cdr_pgsql.conf" in files
    assert check_files(files) == []
    # Asterisk and the worker share a network namespace: ARI and AMI on loopback only.
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "bindaddr = 127.0.0.1" in files["manager.conf"]


def test_the_readme_documents_the_softphone_settings() -> None:
    readme = (DOCKER / "README.md").read_text()
    for needle in ("docker compose up", "1001", "change-me-1001", "5060", "UDP", "100"):
        assert needle in readme, needle
