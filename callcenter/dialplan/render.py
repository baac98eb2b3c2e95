"""callcenter.yaml -> the Asterisk config files (extensions.conf, pjsip.conf, ari.conf, ...).

All logic lives here: :func:`build_contexts` turns the validated config into plain, already
escaped values; the Jinja templates in the repo's ``dialplan/`` only loop and print. Every value
that reaches a file comes from a constrained type of :mod:`callcenter.config` or is checked here
(host names, clear secrets); a value that could break a file raises :class:`RenderError`.

Templates are found in ``callcenter/dialplan/templates``, a symlink to the repo's ``dialplan/``
(so a source checkout and an installed wheel, which copies the files, both work), or in the
directory given with ``templates_dir`` / ``--templates``.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2

from callcenter.config import Agent, CallCenterConfig, Queue
from callcenter.dialplan import secrets
from callcenter.dialplan.contexts import (
    AGENTS_CONTEXT,
    FALLBACK_CONTEXT,
    FALLBACK_EXTENSION,
    INBOUND_CONTEXT,
)
from callcenter.errors import ConfigError
from callcenter.text import shown

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# Dialplan contexts we own (callcenter.dialplan.contexts): callers from the trunk land in
# INBOUND, agents' phones in AGENTS, callers no worker takes in FALLBACK.
# queues.conf section names get a prefix: a queue called "general" would otherwise be read as
# queues.conf's [general] section.
FALLBACK_QUEUE_PREFIX = "callcenter-"
# Played when the fallback queue gives up (core sounds: "all representatives are busy", "goodbye").
FALLBACK_MESSAGE = "tt-allbusy&vm-goodbye"
TRUNK = "trunk"
# Chars of an endpoint's resource that a dialplan extension may hold literally ('-' is ignored
# by Asterisk's extension matching, '.' and '_' make patterns).
# Matched with fullmatch: re.match with '$' would also accept a trailing newline.
_DIALABLE = re.compile(r"[A-Za-z0-9]+")
_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*")
_DB_WORD = re.compile(r"[A-Za-z0-9_.-]{1,63}")

# app_queue strategies for our routing strategies (the fallback cannot route on skill levels:
# a queue's members are the agents who qualify for it).
QUEUE_STRATEGIES = {
    "longest_idle": "leastrecent",
    "least_calls": "fewestcalls",
    "best_skill": "leastrecent",
    "round_robin": "rrmemory",
    "ring_all": "ringall",
}

CORE_FILES = (
    "extensions.conf",
    "pjsip.conf",
    "ari.conf",
    "http.conf",
    "manager.conf",
    "queues.conf",
    "musiconhold.conf",
)
OPTIONAL_FILES = ("cdr_pgsql.conf",)
"""cdr_pgsql.conf is rendered only when the database is PostgreSQL."""


class RenderError(ConfigError):
    """The config cannot be turned into Asterisk files (names the key and why)."""

    code = "dialplan-render"


class SecretsMissing(RenderError):
    """Secrets the files need are missing or placeholders (all of them, one per line)."""

    code = "secrets-missing"


# --- the plain context the templates see ------------------------------------------------------


@dataclass(frozen=True)
class InboundNumber:
    number: str
    menu: str


@dataclass(frozen=True)
class AgentPhone:
    agent_id: str
    name: str
    resource: str
    """The PJSIP endpoint/aor/auth section name (``1001`` for ``PJSIP/1001``)."""
    endpoint: str
    extension: str | None
    """What other agents dial to reach this phone (None when the name is not dialable)."""
    md5_cred: str


@dataclass(frozen=True)
class Member:
    interface: str
    penalty: int
    name: str


@dataclass(frozen=True)
class FallbackQueue:
    section: str
    title: str
    strategy: str
    timeout: int
    wrapuptime: int
    musicclass: str
    announce_frequency: int
    members: list[Member] = field(default_factory=list)


@dataclass(frozen=True)
class Trunk:
    host: str
    port: int
    username: str | None
    auth: dict[str, str] | None
    """auth section options (auth_type, username, realm, md5_cred or password)."""
    registration: bool


def _fail(key: str, message: str) -> RenderError:
    return RenderError(f"{key}: {message}", key=key)


def _host(value: str, key: str) -> str:
    if not _HOSTNAME.fullmatch(value):
        raise _fail(key, f"invalid host {shown(value)} (a host name or IPv4 address)")
    return value


def _bind_address(host: str) -> str:
    """Where Asterisk should listen so that ``host`` reaches it (loopback stays loopback)."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return "0.0.0.0"  # a DNS name (e.g. a Docker service): listen on every address


def _is_loopback(host: str) -> bool:
    return _bind_address(host).startswith("127.")


def _agent_phones(config: CallCenterConfig, allow_insecure: bool) -> list[AgentPhone]:
    realm = config.sip.realm
    phones = []
    for i, agent in enumerate(config.agents):
        resource = agent.endpoint.removeprefix("PJSIP/")
        if resource == TRUNK and config.sip.trunk is not None:
            raise _fail(f"agents[{i}].endpoint", f"PJSIP/{TRUNK} is reserved for the trunk")
        password = _agent_secret(agent, i, resource, allow_insecure)
        phones.append(
            AgentPhone(
                agent_id=agent.id,
                name=agent.name,
                resource=resource,
                endpoint=agent.endpoint,
                extension=resource if _DIALABLE.fullmatch(resource) else None,
                md5_cred=secrets.md5_cred(resource, realm, password),
            )
        )
    return phones


def _agent_secret(agent: Agent, index: int, resource: str, allow_insecure: bool) -> str:
    key = f"agents[{index}].sip_secret"
    if agent.sip_secret is None:
        if not allow_insecure:
            raise _fail(
                key,
                f"agent {agent.id!r} has no sip_secret; set one (e.g. ${{SIP_SECRET_"
                f"{agent.id.upper().replace('-', '_')}}}) or pass --allow-insecure-defaults "
                f"(the demo password is then 'change-me-{resource}')",
            )
        return f"change-me-{resource}"
    return secrets.check_secret(agent.sip_secret, key, allow_insecure_defaults=allow_insecure)


def _fallback_queues(config: CallCenterConfig) -> list[FallbackQueue]:
    # Index agents by skill once: 500 queues x 5,000 agents must stay well under a second.
    by_skill: dict[str, list[tuple[int, Agent, int]]] = defaultdict(list)
    for order, agent in enumerate(config.agents):
        for skill, level in agent.skills.items():
            by_skill[skill].append((order, agent, level))
    everyone = [(order, agent, 10) for order, agent in enumerate(config.agents)]
    queues = []
    for queue_id, queue in config.queues.items():
        queues.append(_fallback_queue(queue_id, queue, by_skill, everyone))
    return queues


def _fallback_queue(
    queue_id: str,
    queue: Queue,
    by_skill: dict[str, list[tuple[int, Agent, int]]],
    everyone: list[tuple[int, Agent, int]],
) -> FallbackQueue:
    if queue.skills:
        first, *rest = queue.skills
        candidates = [c for c in by_skill.get(first.skill, []) if c[2] >= first.min_level]
        for req in rest:
            candidates = [c for c in candidates if c[1].skills.get(req.skill, 0) >= req.min_level]
    else:
        candidates = everyone
    # Every qualified agent gets penalty 0: app_queue keeps ringing the lowest penalty tier while
    # any of its members is available, so an unanswered best agent would hold the caller forever.
    # The most skilled come first (what the 'linear' strategy and the listing show).
    ordered = sorted(candidates, key=lambda c: (-c[2], c[0]))
    members = [Member(agent.endpoint, 0, agent.name) for _order, agent, _level in ordered]
    return FallbackQueue(
        section=FALLBACK_QUEUE_PREFIX + queue_id,
        title=queue.name,
        strategy=QUEUE_STRATEGIES[queue.strategy],
        timeout=queue.ring_timeout,
        wrapuptime=queue.wrapup_seconds,
        musicclass=queue.moh_class,
        announce_frequency=queue.announce_position_every,
        members=members,
    )


def _trunk(config: CallCenterConfig, allow_insecure: bool) -> Trunk | None:
    trunk = config.sip.trunk
    if trunk is None:
        return None
    auth: dict[str, str] | None = None
    if trunk.secret is not None:
        if trunk.username is None:
            raise _fail("sip.trunk.username", "a trunk secret needs a username")
        secret = secrets.check_secret(
            trunk.secret, "sip.trunk.secret", allow_insecure_defaults=allow_insecure
        )
        auth = {"auth_type": "userpass", "username": trunk.username}
        if trunk.realm:
            # For outbound auth the realm must be the provider's (its WWW-Authenticate header).
            auth.update(
                auth_type="md5",
                realm=trunk.realm,
                md5_cred=secrets.md5_cred(trunk.username, trunk.realm, secret),
            )
        else:
            auth["password"] = secrets.config_safe(secret, "sip.trunk.secret")
    elif trunk.registration:
        raise _fail("sip.trunk.secret", "registration needs a username and secret")
    return Trunk(trunk.host, trunk.port, trunk.username, auth, trunk.registration)


def _ip(value: str, key: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError as exc:
        raise _fail(key, f"must be an IP address, not {value!r}") from exc
    return f"[{address}]" if address.version == 6 else str(address)


def _database(config: CallCenterConfig, allow_insecure: bool) -> dict[str, Any] | None:
    url = config.database.url
    if not url.startswith("postgresql"):
        return None
    parts = urlsplit(url)
    key = "database.url"
    values = {
        "hostname": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "dbname": parts.path.lstrip("/") or "callcenter",
        "user": unquote(parts.username or "callcenter"),
    }
    for name, value in values.items():
        if not _DB_WORD.fullmatch(value):
            raise _fail(key, f"{name} {shown(value)} cannot be written into cdr_pgsql.conf")
    password = unquote(parts.password) if parts.password else None
    if password is not None:
        secrets.check_secret(password, key + " (password)", allow_insecure_defaults=allow_insecure)
        secrets.config_safe(password, key + " (password)")
    return {**values, "password": password}


def _extensions_context(config: CallCenterConfig, phones: list[AgentPhone]) -> dict[str, Any]:
    for i, phone in enumerate(phones):
        # The agents' context includes the inbound one: a local extension would shadow a number.
        if phone.extension in config.ivr.numbers:
            raise _fail(
                f"agents[{i}].endpoint",
                f"{phone.endpoint} would shadow the IVR number {phone.extension} for agents",
            )
    return {
        "app": config.asterisk.ari.app,
        "inbound_context": INBOUND_CONTEXT,
        "agents_context": AGENTS_CONTEXT,
        "fallback_context": FALLBACK_CONTEXT,
        "fallback_extension": FALLBACK_EXTENSION,
        "numbers": [InboundNumber(n, menu) for n, menu in config.ivr.numbers.items()],
        "agents": [p for p in phones if p.extension],
        "fallback_queue": FALLBACK_QUEUE_PREFIX + config.ivr.operator_queue,
        "fallback_timeout": config.queues[config.ivr.operator_queue].max_wait_seconds,
        "fallback_message": FALLBACK_MESSAGE,
    }


def _pjsip_context(
    config: CallCenterConfig, phones: list[AgentPhone], allow: bool
) -> dict[str, Any]:
    sip = config.sip
    return {
        "transport": {
            "name": f"transport-{sip.protocol}",
            "protocol": sip.protocol,
            "bind": f"{_ip(sip.bind, 'sip.bind')}:{sip.port}",
            "external_address": sip.external_address,
            "local_nets": sip.local_nets,
        },
        "realm": sip.realm,
        "codecs": ",".join(sip.codecs),
        "agents": phones,
        "agents_context": AGENTS_CONTEXT,
        "inbound_context": INBOUND_CONTEXT,
        "trunk": _trunk(config, allow),
        "trunk_name": TRUNK,
    }


def _ari_http_contexts(config: CallCenterConfig, allow: bool) -> dict[str, dict[str, Any]]:
    ari = config.asterisk.ari
    url = urlsplit(ari.url)
    if url.scheme != "http":
        raise _fail(
            "asterisk.ari.url",
            "only http:// is rendered into http.conf (put a TLS proxy in front for https)",
        )
    host = _host(url.hostname or "", "asterisk.ari.url")
    password = secrets.check_secret(
        ari.password, "asterisk.ari.password", allow_insecure_defaults=allow
    )
    # A salt derived from names keeps renders reproducible (see secrets.stable_salt).
    hashed = secrets.sha512_crypt(password, secrets.stable_salt(ari.app, ari.username))
    return {
        "ari.conf": {"username": ari.username, "password_hash": hashed},
        "http.conf": {"bindaddr": _bind_address(host), "bindport": url.port or 80},
    }


def _manager_context(config: CallCenterConfig, allow: bool) -> dict[str, Any]:
    ami = config.asterisk.ami
    host = _host(ami.host, "asterisk.ami.host")
    secret = secrets.check_secret(ami.secret, "asterisk.ami.secret", allow_insecure_defaults=allow)
    return {
        "bindaddr": _bind_address(host),
        "port": ami.port,
        "username": ami.username,
        "secret": secrets.config_safe(secret, "asterisk.ami.secret"),
        # Loopback workers: only loopback may log in. Otherwise private networks, where
        # workers beside Asterisk live; tighten with a firewall for anything else.
        "permit": ["127.0.0.1/32"]
        if _is_loopback(host)
        else ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.1/32"],
    }


def env_name(*parts: str) -> str:
    """An environment variable's name from words: ``SIP_SECRET_ALICE`` for agent alice."""
    return re.sub(r"[^A-Z0-9]+", "_", "_".join(parts).upper()).strip("_")


def _wanted_secret(key: str, what: str, variable: str, field_name: str) -> str:
    # The ${...} is quoted: unquoted, it breaks a one-line YAML mapping like the example's
    # agents ({id: alice, ...}).
    return f'{key}: {what}; set {variable}, read by {field_name}: "${{{variable}}}"'


def secret_problems(config: CallCenterConfig) -> list[str]:
    """Every secret the files need that is missing or a placeholder, each with the
    environment variable to set (all at once, not one per run)."""
    problems: list[str] = []

    def placeholder(key: str, value: str | None, variable: str, field_name: str) -> None:
        if value is not None and secrets.is_placeholder(value):
            what = f"{value!r} is a placeholder" if value else "empty"
            problems.append(_wanted_secret(key, what, variable, field_name))

    for i, agent in enumerate(config.agents):
        key, variable = f"agents[{i}].sip_secret", env_name("SIP_SECRET", agent.id)
        if agent.sip_secret is None:
            what = f"agent {agent.id!r} has no sip_secret"
            problems.append(_wanted_secret(key, what, variable, "sip_secret"))
        else:
            placeholder(key, agent.sip_secret, variable, "sip_secret")
    placeholder("asterisk.ari.password", config.asterisk.ari.password, "ARI_PASSWORD", "password")
    placeholder("asterisk.ami.secret", config.asterisk.ami.secret, "AMI_SECRET", "secret")
    if config.sip.trunk is not None:
        placeholder("sip.trunk.secret", config.sip.trunk.secret, "SIP_TRUNK_SECRET", "secret")
    url = config.database.url
    if url.startswith("postgresql"):
        password = urlsplit(url).password
        placeholder(
            "database.url (password)",
            unquote(password) if password else None,
            "CALLCENTER_DB_URL",
            "url",
        )
    return problems


def build_contexts(
    config: CallCenterConfig, *, allow_insecure_defaults: bool = False
) -> dict[str, dict[str, Any]]:
    """The template context of every file to render, keyed by file name."""
    allow = allow_insecure_defaults
    problems = [] if allow else secret_problems(config)
    if problems:
        raise SecretsMissing(
            f"{len(problems)} secret{'s are' if len(problems) > 1 else ' is'} missing or "
            "placeholders (--allow-insecure-defaults renders demo values, for a demo only):\n"
            + "\n".join(problems),
            keys=[line.split(":", 1)[0] for line in problems],
        )
    phones = _agent_phones(config, allow)
    contexts: dict[str, dict[str, Any]] = {
        "extensions.conf": _extensions_context(config, phones),
        "pjsip.conf": _pjsip_context(config, phones, allow),
        **_ari_http_contexts(config, allow),
        "manager.conf": _manager_context(config, allow),
        "queues.conf": {"queues": _fallback_queues(config)},
        "musiconhold.conf": {
            "classes": sorted({q.moh_class for q in config.queues.values()} - {"default"}),
        },
    }
    database = _database(config, allow)
    if database is not None:
        contexts["cdr_pgsql.conf"] = {"db": database}
    # Every file's header names the call center.
    return {name: {"name": config.name, **context} for name, context in contexts.items()}


def template_environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """Jinja set up to fail loudly: StrictUndefined, no autoescape (these are not HTML)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir or TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_files(
    config: CallCenterConfig,
    *,
    allow_insecure_defaults: bool = False,
    templates_dir: Path | None = None,
) -> dict[str, str]:
    """Render every file: ``{"extensions.conf": text, ...}``; same config, same text."""
    env = template_environment(templates_dir)
    contexts = build_contexts(config, allow_insecure_defaults=allow_insecure_defaults)
    files = {}
    for name, context in contexts.items():
        try:
            template = env.get_template(name + ".j2")
        except jinja2.TemplateNotFound as exc:
            raise RenderError(
                f"template {name}.j2 not found in {templates_dir or TEMPLATES_DIR}",
                template=name,
            ) from exc
        try:
            files[name] = template.render(**context)
        except jinja2.TemplateError as exc:  # e.g. StrictUndefined: a variable nobody prepared
            raise RenderError(f"template {name}.j2: {exc}", template=name) from exc
    return files
