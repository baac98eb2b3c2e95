"""docker/: the compose file's structure and the Dockerfiles' syntax (no Docker engine here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.config import load_config, weak_secret_problem
from callcenter.dialplan.check import check_files
from callcenter.dialplan.render import render_files
from callcenter.errors import ConfigError

DOCKER = Path(__file__).resolve().parents[2] / "docker"
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


SECRET_NAMES = {
    "ARI_PASSWORD",
    "AMI_SECRET",
    "POSTGRES_PASSWORD",
    "CALLCENTER_API_TOKEN",
    "CALLCENTER_SESSION_SECRET",
    *(
        f"SIP_SECRET_{name}"
        for name in ["ALICE", "BOB", "CARLA", "DEV", "ERIN", "FEMI", "GINA", "HUGO"]
    ),
}


def run_secrets_script(directory: Path) -> dict[str, str]:
    """Run a copy of docker/secrets.sh in ``directory``; the .env it leaves, parsed."""
    shutil.copy(DOCKER / "secrets.sh", directory / "secrets.sh")
    subprocess.run(["sh", str(directory / "secrets.sh")], check=True, capture_output=True)
    lines = (directory / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def docker_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return run_secrets_script(tmp_path_factory.mktemp("docker"))


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
    # SIP and RTP on the Docker host's loopback unless SIP_PUBLISH_ADDRESS opens them wider.
    assert "${SIP_PUBLISH_ADDRESS:-127.0.0.1}:5060:5060/udp" in ports
    rtp = next(p for p in ports if "10000-" in p)
    rtp_conf = (DOCKER / "asterisk" / "rtp.conf").read_text()
    assert "rtpstart = 10000" in rtp_conf and "rtpend = 10099" in rtp_conf
    assert rtp == "${SIP_PUBLISH_ADDRESS:-127.0.0.1}:10000-10099:10000-10099/udp"
    assert not any("5038" in p or "8088" in p for p in ports)  # AMI and ARI stay inside


@pytest.mark.parametrize("service", ["postgres", "asterisk", "worker"])
def test_long_running_services_have_healthchecks(compose: dict[str, Any], service: str) -> None:
    check = compose["services"][service]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert {"interval", "timeout", "retries"} <= set(check)


def test_volumes_mount_the_rendered_files_where_the_config_says(
    compose: dict[str, Any], docker_env: dict[str, str]
) -> None:
    config = load_config(DOCKER / "callcenter.yaml", env=docker_env)
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
        assert set(env) >= SECRET_NAMES
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


def test_the_docker_config_renders_and_lints_clean(docker_env: dict[str, str]) -> None:
    config = load_config(DOCKER / "callcenter.yaml", env=docker_env)
    assert config.database.url.startswith("postgresql+psycopg://callcenter:")
    files = render_files(config)  # real secrets: no --allow-insecure-defaults
    assert "cdr_pgsql.conf" in files
    assert check_files(files) == []
    # Asterisk and the worker share a network namespace: ARI and AMI on loopback only.
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "bindaddr = 127.0.0.1" in files["manager.conf"]


def test_the_readme_documents_the_softphone_settings() -> None:
    readme = (DOCKER / "README.md").read_text()
    for needle in ("./up.sh", "1001", "SIP_SECRET_ALICE", "5060", "UDP", "100"):
        assert needle in readme, needle


def test_no_default_or_placeholder_secret_anywhere(compose: dict[str, Any]) -> None:
    """The stack used to start with change-me-1001 as agent 1001's SIP password."""
    text = (DOCKER / "docker-compose.yml").read_text()
    assert "allow-insecure-defaults" not in text
    assert "change-me" not in text
    assert "change-me" not in (DOCKER / "callcenter.yaml").read_text()
    for name in SECRET_NAMES:
        # ${NAME:?message}: compose refuses to start when docker/.env lacks it.
        for service in ("setup", "worker"):
            value = compose["services"][service]["environment"][name]
            assert value.startswith(f"${{{name}:?"), (service, name, value)
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    with pytest.raises(ConfigError) as missing:
        load_config(DOCKER / "callcenter.yaml", env={})
    reported = str(missing.value)
    assert all(name in reported for name in SECRET_NAMES - {"CALLCENTER_API_TOKEN"})


def test_secrets_script_writes_a_private_env_of_random_values_once(tmp_path: Path) -> None:
    first = run_secrets_script(tmp_path)
    assert set(first) == SECRET_NAMES
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    assert len(set(first.values())) == len(first)  # one value per secret
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in first.values())
    for name in ("CALLCENTER_API_TOKEN", "CALLCENTER_SESSION_SECRET"):
        assert weak_secret_problem(first[name]) is None
    # A second run keeps every value and adds only what is missing.
    env = tmp_path / ".env"
    env.write_text("\n".join(f"{k}={v}" for k, v in first.items() if k != "AMI_SECRET") + "\n")
    second = run_secrets_script(tmp_path)
    assert {k: v for k, v in second.items() if k != "AMI_SECRET"} == {
        k: v for k, v in first.items() if k != "AMI_SECRET"
    }
    assert second["AMI_SECRET"] not in first.values()


def test_up_script_makes_the_secrets_then_starts_compose() -> None:
    script = (DOCKER / "up.sh").read_text()
    assert script.startswith("#!/bin/sh\n") and "set -eu" in script
    assert script.index("./secrets.sh") < script.index("docker compose up --build")
    ignored = (DOCKER.parent / ".gitignore").read_text().splitlines()
    assert "docker/.env" in ignored
