"""One validated model of a whole call center, loaded from ``callcenter.yaml``.

Everything else (workers, dialplan templates, reports) reads this model; nothing is configured
twice. Loading validates types, unknown keys and cross references at once and raises
:class:`~callcenter.errors.ConfigError` naming the file, the key path (``queues.sales.skills[1]``)
and what is wrong.

Secrets can come from the environment: any string value may be written ``${ARI_PASSWORD}`` (or
``${ARI_PASSWORD:-fallback}``) and is replaced at load.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from callcenter.config_types import (
    CRM_PLACEHOLDERS,
    LOOKUP_PLACEHOLDERS,
    MAX_URL_LENGTH,
    PATTERN_HINTS,
    AsteriskUser,
    Digit,
    Directory,
    DisplayName,
    Endpoint,
    Extension,
    HostAddress,
    Hostname,
    HttpUrl,
    Identifier,
    Network,
    Secret,
    SecretValueError,
    StrongSecret,
    TimeZoneName,
    check_http_url,
    one_line_text,
)
from callcenter.config_types import MAKE_SECRET_COMMAND as MAKE_SECRET_COMMAND
from callcenter.config_types import weak_secret_problem as weak_secret_problem
from callcenter.config_yaml import format_path, load_yaml
from callcenter.errors import ConfigError
from callcenter.sounds import MediaUri, Prompt, sound_problems
from callcenter.text import shown, text_problem

CONFIG_ENV_VAR = "CALLCENTER_CONFIG"
DEFAULT_CONFIG_PATH = "callcenter.yaml"


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- Asterisk connection ----------------------------------------------------------------------


class AriSettings(Strict):
    url: HttpUrl = "http://127.0.0.1:8088/"
    username: AsteriskUser = "callcenter"
    password: Secret
    app: Identifier = "callcenter"

    @field_validator("url")
    @classmethod
    def _ends_with_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class AmiSettings(Strict):
    host: HostAddress = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: AsteriskUser = "callcenter"
    secret: Secret


class AsteriskSettings(Strict):
    ari: AriSettings
    ami: AmiSettings
    request_timeout: float = Field(default=5.0, gt=0, le=120)
    connect_retry_max_delay: float = Field(default=30.0, gt=0, le=600)
    config_dir: Directory = "/etc/asterisk"
    """Where `callcenter dialplan deploy` writes the rendered files."""
    sounds_dir: str = "/var/lib/asterisk/sounds"
    """Asterisk's sounds directory: deploy installs prompts in ``<language>/callcenter/``."""


# --- storage ----------------------------------------------------------------------------------


class DatabaseSettings(Strict):
    url: str = "sqlite:///callcenter.db"
    spool_dir: Directory = "var/spool"
    batch_size: int = Field(default=500, ge=1, le=100_000)
    flush_interval_ms: int = Field(default=200, ge=1, le=60_000)

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        problem = text_problem(value, MAX_URL_LENGTH)
        if problem is not None:
            raise ValueError(problem)
        if not re.fullmatch(r"(sqlite|postgresql(\+psycopg)?)://\S*", value):
            raise ValueError("must start with sqlite:// or postgresql+psycopg:// (no spaces)")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value


class RecordingPolicy(Strict):
    """What to record and how to tell the caller."""

    record: Literal["none", "agent", "call"] = "none"
    """``agent``: the caller-agent bridge; ``call``: the whole call from answer."""
    consent_prompt: MediaUri | None = None
    format: Literal["wav", "gsm", "ulaw", "alaw", "sln"] = "wav"
    retention_days: int = Field(default=90, ge=1, le=3650)


class RecordingSettings(Strict):
    directory: Directory = "var/recordings"
    default: RecordingPolicy = RecordingPolicy()


HookEvent = Literal[
    "call_start", "queue_entry", "agent_connect", "recording_finished", "call_end", "voicemail"
]


_HTTP_URL_HOST = re.compile(r"https?://([^\s/@]*@)?(\[[^\]]+\]|[^\s/:@?#]+)(:\d+)?([/?#]\S*)?")
"""An http(s) URL; group 2 is the host (a name, an IPv4 address or a bracketed IPv6 one)."""


def non_public_address(host: str) -> str | None:
    """What kind of non-public address ``host`` is (``loopback``, ``private``...), or None when
    it is a public address or not an IP address at all."""

    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global:
        return None
    for kind in ("loopback", "link_local", "private", "multicast", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return "reserved"


class WebhookSettings(Strict):
    url: HttpUrl
    secret: Secret
    events: list[HookEvent] = Field(default_factory=lambda: list[HookEvent](["call_end"]))
    allow_private_network: bool = False
    """Deliver to loopback, link-local and private addresses too (a receiver on your own
    network). Off: such destinations are refused, whether written in the URL or resolved."""

    @model_validator(mode="after")
    def _public_http_url(self) -> WebhookSettings:
        match = _HTTP_URL_HOST.fullmatch(self.url)
        if match is None:
            raise ValueError(f"url must be an http:// or https:// URL, not {shown(self.url)}")
        kind = non_public_address(match.group(2))
        if kind is not None and not self.allow_private_network:
            raise ValueError(
                f"url {shown(self.url)} is a {kind} address: set allow_private_network: true if "
                "the receiver is meant to be on your own network"
            )
        return self


class ApiSettings(Strict):
    """The HTTP API a worker serves (agent control, status) and where the CLI reaches it."""

    host: HostAddress = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    token: StrongSecret | None = None
    """Bearer token every request must carry (random, see ``weak_secret_problem``); write
    ``${CALLCENTER_API_TOKEN}`` to keep it out of the file (the API and CLI also read that
    environment variable when this is unset)."""
    url: HttpUrl | None = None
    """Where the CLI sends requests [default: http://host:port/]."""


class QaCriterion(Strict):
    id: Identifier
    label: DisplayName
    max_points: int = Field(default=5, ge=1, le=100)


DEFAULT_QA_FORM = (
    QaCriterion(id="greeting", label="Greeted the caller and gave their name"),
    QaCriterion(id="identification", label="Identified the caller correctly"),
    QaCriterion(id="resolution", label="Resolved the request", max_points=10),
    QaCriterion(id="courtesy", label="Courteous and clear"),
)


class WebSettings(Strict):
    """The web pages (agent desktop, wallboard, QA) served beside the API."""

    session_secret: StrongSecret | None = None
    """Signs session cookies and is the key TOTP secrets are encrypted with (random, see
    ``weak_secret_problem``). Write ``${CALLCENTER_SESSION_SECRET}``; when unset a random one
    is made at start (everyone signs in again after a restart, and two-factor sign-in cannot
    be turned on)."""
    secure_cookies: bool = False
    """Set the cookie's Secure flag: turn on behind HTTPS."""
    session_hours: int = Field(default=10, ge=1, le=168)
    max_failed_sign_ins: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=1440)
    sign_in_attempts_per_minute: int = Field(default=10, ge=1, le=1000)
    """Failed sign-ins allowed per client address and user name in a minute (successful ones
    are not counted)."""
    trusted_proxies: list[Network] = Field(default_factory=list)
    """Networks of reverse proxies (``[10.0.0.5/32]``) whose ``X-Forwarded-For`` tells the
    client's address; from anywhere else the header is ignored."""
    max_event_streams_per_session: int = Field(default=5, ge=1, le=100)
    """Live update streams (one per open page) a signed-in browser may hold."""
    max_event_streams: int = Field(default=500, ge=1, le=100_000)
    """Live update streams the worker serves in all; more get 429."""
    qa_form: list[QaCriterion] = Field(default_factory=lambda: list(DEFAULT_QA_FORM))
    supervisor_endpoint: Endpoint | None = None
    """Where listen/whisper/barge rings when the supervisor user has no agent endpoint."""


# --- voicemail --------------------------------------------------------------------------------

EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$"
EmailAddress = Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)]
"""An e-mail address: ``local@domain.tld``, no display name, nothing that could break a mail
header (no spaces, commas, angle brackets or line ends)."""

NOTIFY_WEBHOOK = "webhook"


def _notify_target(value: str) -> str:
    if value != NOTIFY_WEBHOOK and not re.match(EMAIL_PATTERN, value):
        raise ValueError(f"{value!r} is neither 'webhook' nor an e-mail address")
    return value


NotifyTarget = Annotated[str, AfterValidator(_notify_target)]
"""``webhook`` (the signed ``voicemail`` webhook) or an e-mail address (through ``smtp``)."""


class Mailbox(Strict):
    """A voicemail box: where callers leave messages, and who hears of them."""

    name: DisplayName
    queue: Identifier | None = None
    """The queue whose agents see and handle the box's messages (supervisors see every box);
    its recording policy decides how long the messages are kept."""
    notify: list[NotifyTarget] = Field(default_factory=lambda: [NOTIFY_WEBHOOK])
    """``webhook`` and/or e-mail addresses told of each new message."""
    greeting: MediaUri = "sound:vm-intro"
    """Played before the beep (Asterisk's core sound: "leave your message after the tone...")."""
    max_seconds: int = Field(default=120, ge=5, le=3600)
    max_silence_seconds: int = Field(default=10, ge=0, le=300)
    """Asterisk ends the message after this much silence (ARI ``maxSilenceSeconds``; 0: never)."""
    min_sound_seconds: float = Field(default=2.0, ge=0, le=60)
    """A message with less sound than this is kept but marked empty (a caller who hung up at
    the beep)."""


class SmtpSettings(Strict):
    """The mail server voicemail notifications go through."""

    host: Hostname
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (a local relay)."""
    username: str | None = None
    password: Secret | None = None
    from_address: EmailAddress
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    attach_audio: bool = True
    """Attach the message's audio (up to ``max_attachment_kb``; larger ones are linked)."""
    max_attachment_kb: int = Field(default=5_000, ge=1, le=50_000)
    inbox_url: str | None = None
    """Where the web pages are, as people reach them (``https://cc.example.com/``): each mail
    links to the message in the inbox."""

    @field_validator("inbox_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
            raise ValueError("must be an http:// or https:// URL")
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _credentials_together(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self


# --- time -------------------------------------------------------------------------------------

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TimeRange = Annotated[
    str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
]


class BusinessHours(Strict):
    """Weekly opening hours (``"09:00-17:30"`` ranges per day) plus closed dates."""

    timezone: TimeZoneName | None = None
    weekly: dict[Weekday, list[TimeRange]]
    holidays: list[dt.date] = Field(default_factory=list)

    @field_validator("weekly")
    @classmethod
    def _ranges_in_order(cls, value: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        for day, ranges in value.items():
            for text in ranges:
                start, end = text.split("-")
                if start >= end:
                    raise ValueError(f"{day}: range {text!r} ends before it starts")
        return value


# --- people and queues ------------------------------------------------------------------------


class Agent(Strict):
    id: Identifier
    name: DisplayName
    endpoint: Endpoint
    skills: dict[Identifier, Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=dict)
    max_concurrent_calls: int = Field(default=1, ge=1, le=1)
    sip_secret: Secret | None = None
    """The SIP password of the agent's phone (pjsip.conf stores only its MD5 digest)."""


class SkillRequirement(Strict):
    skill: Identifier
    min_level: int = Field(default=1, ge=1, le=10)


class EscalationStep(Strict):
    """After ``after_seconds`` in queue, relax the requirement (TaskRouter-style workflow step)."""

    after_seconds: int = Field(ge=1, le=86_400)
    """Seconds in queue (at most a day, like ``max_wait_seconds``)."""
    min_level: int | None = Field(default=None, ge=1, le=10)
    """Accept agents down to this level on every required skill."""
    add_skills: list[Identifier] = Field(default_factory=list)
    """Also accept agents who have any of these skills instead."""


class OverflowTarget(Strict):
    """Where a caller goes when the wait is too long or the queue is closed."""

    queue: Identifier | None = None
    voicemail: Identifier | None = None
    callback: bool = False
    prompt: MediaUri | None = None
    hangup: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> OverflowTarget:
        chosen = [n for n in ("queue", "voicemail", "callback", "hangup") if getattr(self, n)]
        if len(chosen) != 1:
            raise ValueError("choose exactly one of queue, voicemail, callback, hangup")
        return self


Strategy = Literal["longest_idle", "least_calls", "best_skill", "round_robin", "ring_all"]


class Queue(Strict):
    name: DisplayName
    skills: list[SkillRequirement] = Field(default_factory=list)
    strategy: Strategy = "longest_idle"
    ring_timeout: int = Field(default=15, ge=3, le=300)
    wrapup_seconds: int = Field(default=10, ge=0, le=3600)
    max_wait_seconds: int = Field(default=600, ge=10, le=86_400)
    overflow: OverflowTarget = OverflowTarget(hangup=True)
    escalation: list[EscalationStep] = Field(default_factory=list)
    service_level_seconds: int = Field(default=20, ge=1, le=3600)
    service_level_target: int = Field(default=80, ge=1, le=100)
    """Percent of calls to answer within ``service_level_seconds`` (e.g. 80/20): the
    wallboard's green, amber and red are measured against it."""
    hours: Identifier | None = None
    closed: OverflowTarget | None = None
    moh_class: Identifier = "default"
    entry_prompt: MediaUri | None = None
    announce_position_every: int = Field(default=30, ge=0, le=3600)
    """Seconds between position / estimated-wait announcements; 0 turns them off."""
    callback_digit: Digit | None = None
    """A digit the waiting caller presses to leave a callback request instead of waiting."""
    autopause_after_no_answers: int = Field(default=2, ge=0, le=100)
    recording: RecordingPolicy | None = None
    crm_link: (
        Annotated[str, AfterValidator(lambda v: check_http_url(v, CRM_PLACEHOLDERS))] | None
    ) = None
    """URL template for the agent's screen pop, e.g. ``https://crm/search?phone={caller}``
    (also ``{call_id}``, ``{queue}``; each value is URL-encoded)."""

    @field_validator("escalation")
    @classmethod
    def _escalation_in_order(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        times = [s.after_seconds for s in steps]
        if times != sorted(set(times)):
            raise ValueError("escalation steps must have increasing after_seconds")
        return steps


# --- IVR --------------------------------------------------------------------------------------


class Goto(Strict):
    """Where the caller goes next: exactly one target."""

    menu: Identifier | None = None
    queue: Identifier | None = None
    priority: int = Field(default=0, ge=0, le=100)
    extra_skills: list[SkillRequirement] = Field(default_factory=list)
    transfer: Extension | None = None
    voicemail: Identifier | None = None
    hangup: bool = False
    prompt: MediaUri | None = None
    """Played before going there (e.g. "transferring you to sales")."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Goto:
        chosen = [
            n for n in ("menu", "queue", "transfer", "voicemail", "hangup") if getattr(self, n)
        ]
        if len(chosen) != 1:
            raise ValueError("choose exactly one of menu, queue, transfer, voicemail, hangup")
        return self


class Lookup(Strict):
    """A self-service lookup: where to ask, how long to wait, what to say back."""

    kind: Literal["http", "sql"]
    url: str | None = None
    """http: a URL template with ``{value}``; sql: a SQLAlchemy URL."""
    query: str | None = Field(default=None, max_length=10_000)
    """sql: a query with a ``:value`` parameter returning one row."""
    result_field: str = Field(default="status", min_length=1, max_length=100)
    timeout_seconds: float = Field(default=3.0, gt=0, le=30)

    @field_validator("url")
    @classmethod
    def _url_of_its_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("kind") == "http":
            return check_http_url(value, LOOKUP_PLACEHOLDERS)
        problem = text_problem(value, MAX_URL_LENGTH)
        if problem is not None:
            raise ValueError(problem)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://\S*", value):
            raise ValueError("expected a SQLAlchemy URL like postgresql+psycopg://host/db")
        return value

    @field_validator("result_field")
    @classmethod
    def _one_line_field(cls, value: str) -> str:
        return one_line_text(value, 100)

    @model_validator(mode="after")
    def _complete(self) -> Lookup:
        if not self.url:
            raise ValueError("a lookup needs a url")
        if self.kind == "sql" and not self.query:
            raise ValueError("an sql lookup needs a query")
        return self


class MenuNode(Strict):
    """One IVR node. ``type`` says what it does."""

    type: Literal["menu", "collect", "play", "lookup", "record_message"] = "menu"
    prompts: list[MediaUri] = Field(default_factory=list)
    choices: dict[Digit, Goto] = Field(default_factory=dict)
    """menu: digit -> where to go."""
    first_digit_timeout: float = Field(default=5.0, gt=0, le=60)
    inter_digit_timeout: float = Field(default=3.0, gt=0, le=30)
    retries: int = Field(default=3, ge=0, le=10)
    invalid_prompt: MediaUri | None = "sound:invalid"
    timeout_prompt: MediaUri | None = None
    on_exhausted: Goto | None = None
    """Where a caller goes when retries run out (defaults to the IVR's operator queue)."""
    # collect
    variable: Identifier | None = None
    min_digits: int = Field(default=1, ge=1, le=32)
    max_digits: int = Field(default=1, ge=1, le=32)
    terminator: Digit | None = None
    # lookup
    lookup: Identifier | None = None
    input_variable: Identifier | None = None
    say_as: Literal["digits", "number", "characters", "sound", "prompt"] = "digits"
    result_prompts: list[MediaUri] = Field(default_factory=list)
    failure_prompt: MediaUri | None = None
    # business hours
    hours: Identifier | None = None
    on_closed: Goto | None = None
    # play / collect / lookup / record_message
    next: Goto | None = None

    @model_validator(mode="after")
    def _shape(self) -> MenuNode:
        if self.type == "menu" and not self.choices:
            raise ValueError("a menu needs choices")
        if self.type != "menu" and self.choices:
            raise ValueError(f"a {self.type} node has no choices (use next)")
        if self.type in {"play", "collect", "lookup", "record_message"} and self.next is None:
            raise ValueError(f"a {self.type} node needs next")
        if self.type == "collect":
            if not self.variable:
                raise ValueError("a collect node needs variable")
            if self.min_digits > self.max_digits:
                raise ValueError("min_digits is larger than max_digits")
        if self.type == "lookup" and not (self.lookup and self.input_variable):
            raise ValueError("a lookup node needs lookup and input_variable")
        if self.hours and self.on_closed is None:
            raise ValueError("hours needs on_closed")
        return self


class IvrSettings(Strict):
    numbers: dict[Extension, Identifier]
    """Dialled number -> the menu callers start in."""
    menus: dict[Identifier, MenuNode]
    operator_queue: Identifier
    """Where callers go when a menu's retries run out and it names no other place."""
    lookups: dict[Identifier, Lookup] = Field(default_factory=dict)
    recording: RecordingPolicy | None = None


# --- SIP (what `callcenter dialplan render` writes into pjsip.conf) ---------------------------


class SipTrunk(Strict):
    """The provider's trunk: calls from ``host`` land on the IVR numbers."""

    host: Hostname
    port: int = Field(default=5060, ge=1, le=65535)
    username: AsteriskUser | None = None
    secret: Secret | None = None
    realm: Hostname | None = None
    """The provider's digest realm: when known, only an MD5 digest of the secret is written."""
    registration: bool = False
    """Register to the provider (pjsip ``type=registration``) rather than match it by address."""


Codec = Literal["ulaw", "alaw", "g722", "opus", "gsm"]


class SipSettings(Strict):
    bind: Hostname = "0.0.0.0"
    port: int = Field(default=5060, ge=1, le=65535)
    protocol: Literal["udp", "tcp"] = "udp"
    realm: Hostname = "callcenter"
    external_address: Hostname | None = None
    """Public address to advertise (behind NAT or in Docker); local_nets are not rewritten."""
    local_nets: list[Network] = Field(default_factory=list)
    codecs: list[Codec] = Field(default_factory=lambda: list[Codec](["ulaw", "alaw"]), min_length=1)
    trunk: SipTrunk | None = None


# --- the whole call center --------------------------------------------------------------------


class CallCenterConfig(Strict):
    name: DisplayName = "Call center"
    timezone: TimeZoneName = "UTC"
    asterisk: AsteriskSettings
    database: DatabaseSettings = DatabaseSettings()
    recordings: RecordingSettings = RecordingSettings()
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    api: ApiSettings = ApiSettings()
    web: WebSettings = WebSettings()
    business_hours: dict[Identifier, BusinessHours] = Field(default_factory=dict)
    skills: list[Identifier] = Field(default_factory=list)
    agents: list[Agent] = Field(default_factory=list)
    queues: dict[Identifier, Queue] = Field(default_factory=dict)
    ivr: IvrSettings
    sip: SipSettings = SipSettings()
    prompts: dict[Identifier, Prompt] = Field(default_factory=dict)
    """Our own prompts (text or file), played as ``prompt:<id>``: see callcenter/sounds.py."""
    voicemail: dict[Identifier, Mailbox] = Field(default_factory=dict)
    """Voicemail boxes by id, named by ``voicemail:`` targets of queues and the IVR."""
    smtp: SmtpSettings | None = None
    """The mail server for voicemail e-mails (needed when a box notifies an address)."""

    def agent(self, agent_id: str) -> Agent:
        for agent in self.agents:
            if agent.id == agent_id:
                return agent
        raise KeyError(agent_id)

    def queue_recording(self, queue_id: str) -> RecordingPolicy:
        """The recording policy that applies to calls answered in this queue."""
        return self.queues[queue_id].recording or self.recordings.default

    def mailbox(self, box_id: str) -> Mailbox:
        """The voicemail box ``box_id``; a box a loaded config does not name (only possible in
        a config built without ``load_config``'s checks) gets the defaults."""
        return self.voicemail.get(box_id) or Mailbox(name=box_id)

    def mailbox_recording(self, box_id: str) -> RecordingPolicy:
        """The recording policy a box's messages follow (its queue's, else the default):
        their retention."""
        queue = self.mailbox(box_id).queue
        if queue is not None and queue in self.queues:
            return self.queue_recording(queue)
        return self.recordings.default


# --- loading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    path: str
    message: str


_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


Loc = tuple[str | int, ...]


def _substitute_env(
    node: Any,
    loc: Loc,
    env: Mapping[str, str],
    problems: list[Problem],
    from_env: dict[Loc, str] | None = None,
) -> Any:
    """Replace ``${NAME}`` in every string; ``from_env`` learns which keys took a value from
    the environment (error messages never show those values)."""
    if isinstance(node, dict):
        return {
            k: _substitute_env(v, (*loc, str(k)), env, problems, from_env) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_substitute_env(v, (*loc, i), env, problems, from_env) for i, v in enumerate(node)]
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if from_env is not None:
                from_env[loc] = name
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(Problem(format_path(loc), f"environment variable {name} is not set"))
            return ""

        return _ENV_PATTERN.sub(replace, node)
    return node


def _pydantic_problems(error: ValidationError, from_env: Mapping[Loc, str]) -> list[Problem]:
    """One problem per error, with a hint that fits the value's type. A wrong value is quoted
    (cut to about 60 characters), except a secret's or one taken from the environment."""
    problems = []
    for item in error.errors():
        # pydantic adds "[key]" when a mapping key (not its value) is wrong, and "function-..."
        # for validators: neither helps a person find the line.
        loc = tuple(
            p
            for p in item["loc"]
            if not (isinstance(p, str) and (p.startswith("function-") or p == "[key]"))
        )
        message = item["msg"].removeprefix("Value error, ")
        kind = item["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "string_pattern_mismatch":
            pattern = str(item.get("ctx", {}).get("pattern", ""))
            message = "expected " + PATTERN_HINTS.get(pattern, f"a value matching {pattern}")
        if kind in ("string_pattern_mismatch", "value_error") and isinstance(item["input"], str):
            secret = isinstance(item.get("ctx", {}).get("error"), SecretValueError)
            if loc in from_env:
                message = f"invalid value (from ${{{from_env[loc]}}}): {message}"
            elif not secret:
                message = f"invalid value {shown(item['input'])}: {message}"
        problems.append(Problem(format_path(loc), message))
    return problems


def unknown(kind: str, value: str, known: Iterable[str]) -> str:
    """``unknown queue 'sale' (did you mean 'sales'?)``: the nearest known id, if one is near."""
    close = difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.6)
    return f"unknown {kind} {value!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def reference_problems(config: CallCenterConfig) -> list[Problem]:
    """Cross-reference checks pydantic cannot do field by field."""
    problems: list[Problem] = []
    skills = set(config.skills)
    hours = set(config.business_hours)
    for i in _repeated(config.skills):
        problems.append(Problem(f"skills[{i}]", f"skill {config.skills[i]!r} is listed twice"))

    endpoints: dict[str, str] = {}
    agent_ids: set[str] = set()
    for i, agent in enumerate(config.agents):
        if agent.id in agent_ids:
            problems.append(Problem(f"agents[{i}].id", f"duplicate agent id {agent.id!r}"))
        agent_ids.add(agent.id)
        if agent.endpoint in endpoints:
            problems.append(
                Problem(
                    f"agents[{i}].endpoint",
                    f"endpoint {agent.endpoint} is already used by agent "
                    f"{endpoints[agent.endpoint]!r}",
                )
            )
        endpoints[agent.endpoint] = agent.id
        for skill in agent.skills:
            if skill not in skills:
                problems.append(
                    Problem(f"agents[{i}].skills.{skill}", unknown("skill", skill, skills))
                )

    for queue_id, queue in config.queues.items():
        base = f"queues.{queue_id}"
        problems.extend(_repeated_skills(queue.skills, f"{base}.skills"))
        for j, req in enumerate(queue.skills):
            path = f"{base}.skills[{j}]"
            if req.skill not in skills:
                problems.append(Problem(path, unknown("skill", req.skill, skills)))
            elif not any(a.skills.get(req.skill, 0) >= req.min_level for a in config.agents):
                problems.append(
                    Problem(
                        path,
                        f"no agent has skill {req.skill!r} at level {req.min_level} or above",
                    )
                )
        for k, step in enumerate(queue.escalation):
            if step.after_seconds >= queue.max_wait_seconds:
                problems.append(
                    Problem(
                        f"{base}.escalation[{k}].after_seconds",
                        f"{step.after_seconds} s is never reached: callers leave the queue "
                        f"after max_wait_seconds ({queue.max_wait_seconds} s)",
                    )
                )
            for j in _repeated(step.add_skills):
                problems.append(
                    Problem(
                        f"{base}.escalation[{k}].add_skills[{j}]",
                        f"skill {step.add_skills[j]!r} is listed twice",
                    )
                )
            for skill in step.add_skills:
                if skill not in skills:
                    problems.append(
                        Problem(
                            f"{base}.escalation[{k}].add_skills", unknown("skill", skill, skills)
                        )
                    )
        if queue.hours and queue.hours not in hours:
            problems.append(Problem(f"{base}.hours", unknown("business hours", queue.hours, hours)))
        if queue.hours and queue.closed is None:
            problems.append(Problem(f"{base}.closed", "hours needs closed (where callers go)"))
        for name, target in (("overflow", queue.overflow), ("closed", queue.closed)):
            if target and target.voicemail and target.voicemail not in config.voicemail:
                problems.append(_unknown_mailbox(f"{base}.{name}.voicemail", target.voicemail))
            if target and target.queue:
                if target.queue not in config.queues:
                    problems.append(
                        Problem(
                            f"{base}.{name}.queue", unknown("queue", target.queue, config.queues)
                        )
                    )
                elif target.queue == queue_id:
                    problems.append(
                        Problem(f"{base}.{name}.queue", "a queue cannot overflow to itself")
                    )

    problems.extend(_queue_cycles(config))
    problems.extend(_ivr_problems(config, skills, hours))
    problems.extend(
        Problem(path, message) for path, message in sound_problems(config, config.prompts)
    )
    problems.extend(_voicemail_problems(config))
    return problems


def _unknown_mailbox(path: str, box_id: str) -> Problem:
    return Problem(path, f"unknown voicemail box {box_id!r} (add it under voicemail:)")


def _voicemail_problems(config: CallCenterConfig) -> list[Problem]:
    problems: list[Problem] = []
    for box_id, box in config.voicemail.items():
        base = f"voicemail.{box_id}"
        if box.queue is not None and box.queue not in config.queues:
            problems.append(Problem(f"{base}.queue", unknown("queue", box.queue, config.queues)))
        seen: set[str] = set()
        for i, target in enumerate(box.notify):
            if target in seen:
                problems.append(Problem(f"{base}.notify[{i}]", f"{target!r} is listed twice"))
            seen.add(target)
            if target != NOTIFY_WEBHOOK and config.smtp is None:
                problems.append(Problem(f"{base}.notify[{i}]", "e-mail needs the smtp: settings"))
    return problems


def _repeated(items: Sequence[object]) -> list[int]:
    """Indexes of the items that repeat an earlier one."""
    seen: set[object] = set()
    repeated = []
    for i, item in enumerate(items):
        if item in seen:
            repeated.append(i)
        seen.add(item)
    return repeated


def _repeated_skills(requirements: Sequence[SkillRequirement], path: str) -> list[Problem]:
    names = [r.skill for r in requirements]
    return [
        Problem(f"{path}[{i}]", f"skill {names[i]!r} is required twice (keep one requirement)")
        for i in _repeated(names)
    ]


def _cycles(edges: Mapping[str, Sequence[tuple[str, str]]]) -> list[tuple[str, str, list[str]]]:
    """Every cycle of the graph ``node -> [(key, next node)]``, once each, as ``(node, key,
    [node, ..., node])`` where ``key`` is the first edge (iterative DFS: menus can be many)."""
    found: list[tuple[str, str, list[str]]] = []
    seen_cycles: set[frozenset[str]] = set()
    done: set[str] = set()
    for start in edges:
        if start in done:
            continue
        path: list[str] = [start]
        keys: list[str] = []
        pending = [iter(edges.get(start, ()))]
        while pending:
            step = next(pending[-1], None)
            if step is None:
                pending.pop()
                done.add(path.pop())
                if keys:
                    keys.pop()
                continue
            key, target = step
            if target in path:
                at = path.index(target)
                cycle = frozenset(path[at:])
                if cycle not in seen_cycles:
                    seen_cycles.add(cycle)
                    first_key = keys[at] if at < len(keys) else key
                    found.append((target, first_key, [*path[at:], target]))
            elif target not in done and target in edges:
                path.append(target)
                keys.append(key)
                pending.append(iter(edges[target]))
    return found


def _queue_cycles(config: CallCenterConfig) -> list[Problem]:
    """A closed queue sends callers on at once (``closed.queue``): a ring of those would pass
    callers round without end while all are closed."""
    edges = {
        queue_id: [("closed.queue", queue.closed.queue)]
        for queue_id, queue in config.queues.items()
        if queue.hours and queue.closed and queue.closed.queue
    }
    return [
        Problem(f"queues.{node}.{key}", "closed queues send callers round: " + " -> ".join(ring))
        for node, key, ring in _cycles(edges)
    ]


def _goto_targets(node: MenuNode) -> list[tuple[str, Goto]]:
    targets = [(f"choices.{d}", g) for d, g in node.choices.items()]
    for name in ("on_exhausted", "on_closed", "next"):
        goto = getattr(node, name)
        if goto is not None:
            targets.append((name, goto))
    return targets


def _ivr_problems(config: CallCenterConfig, skills: set[str], hours: set[str]) -> list[Problem]:
    ivr = config.ivr
    problems: list[Problem] = []
    if ivr.operator_queue not in config.queues:
        problems.append(
            Problem("ivr.operator_queue", unknown("queue", ivr.operator_queue, config.queues))
        )
    for number, menu_id in ivr.numbers.items():
        if menu_id not in ivr.menus:
            problems.append(Problem(f"ivr.numbers.{number}", unknown("menu", menu_id, ivr.menus)))

    for menu_id, node in ivr.menus.items():
        base = f"ivr.menus.{menu_id}"
        if node.hours and node.hours not in hours:
            problems.append(Problem(f"{base}.hours", unknown("business hours", node.hours, hours)))
        if node.lookup and node.lookup not in ivr.lookups:
            problems.append(Problem(f"{base}.lookup", unknown("lookup", node.lookup, ivr.lookups)))
        for where, goto in _goto_targets(node):
            path = f"{base}.{where}"
            if goto.menu and goto.menu not in ivr.menus:
                problems.append(Problem(f"{path}.menu", unknown("menu", goto.menu, ivr.menus)))
            if goto.queue and goto.queue not in config.queues:
                problems.append(
                    Problem(f"{path}.queue", unknown("queue", goto.queue, config.queues))
                )
            problems.extend(_repeated_skills(goto.extra_skills, f"{path}.extra_skills"))
            if goto.voicemail and goto.voicemail not in config.voicemail:
                problems.append(_unknown_mailbox(f"{path}.voicemail", goto.voicemail))
            for k, req in enumerate(goto.extra_skills):
                if req.skill not in skills:
                    problems.append(
                        Problem(f"{path}.extra_skills[{k}]", unknown("skill", req.skill, skills))
                    )

    # Reachability: every menu can be reached from a dialled number.
    reachable: set[str] = set()
    pending = [m for m in ivr.numbers.values() if m in ivr.menus]
    while pending:
        menu_id = pending.pop()
        if menu_id in reachable:
            continue
        reachable.add(menu_id)
        pending.extend(
            g.menu for _, g in _goto_targets(ivr.menus[menu_id]) if g.menu and g.menu in ivr.menus
        )
    for menu_id in ivr.menus:
        if menu_id not in reachable:
            problems.append(Problem(f"ivr.menus.{menu_id}", "unreachable from any number"))

    # Cycles without input: a play or lookup node goes on by itself (``next``), a node with
    # hours goes to ``on_closed`` by itself while closed. A ring of such edges never waits for
    # the caller (a lookup in it would also hammer its server for as long as the caller stays).
    edges = {menu_id: _edges_without_input(node) for menu_id, node in ivr.menus.items()}
    for menu_id, key, ring in _cycles(edges):
        problems.append(
            Problem(
                f"ivr.menus.{menu_id}.{key}", "cycle without caller input: " + " -> ".join(ring)
            )
        )
    return problems


def _edges_without_input(node: MenuNode) -> list[tuple[str, str]]:
    """``(key, menu)`` of the ways out of ``node`` a caller takes without pressing a key."""
    edges = []
    if node.hours and node.on_closed and node.on_closed.menu:
        edges.append(("on_closed", node.on_closed.menu))
    if node.type in ("play", "lookup") and node.next and node.next.menu:
        edges.append(("next", node.next.menu))
    return edges


def resolve_config_path(path: str | os.PathLike[str] | None) -> Path:
    """The config file to use: the given path, else $CALLCENTER_CONFIG, else ./callcenter.yaml."""
    return Path(path or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def parse_config(
    raw: Any, source: str = "<config>", env: Mapping[str, str] | None = None
) -> CallCenterConfig:
    """Validate an already-parsed YAML document."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the file must hold a mapping of settings", file=source)
    problems: list[Problem] = []
    from_env: dict[Loc, str] = {}
    raw = _substitute_env(raw, (), os.environ if env is None else env, problems, from_env)
    if not problems:
        try:
            config = CallCenterConfig.model_validate(raw)
        except ValidationError as exc:
            problems = _pydantic_problems(exc, from_env)
        else:
            problems = reference_problems(config)
    if problems:
        lines = [f"{source}: {p.path}: {p.message}" for p in problems]
        raise ConfigError(
            "\n".join(lines),
            file=source,
            problems=[{"path": p.path, "message": p.message} for p in problems],
        )
    return config


def load_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> CallCenterConfig:
    """Read, substitute ${ENV} secrets, and validate a callcenter.yaml file."""
    file = resolve_config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}", file=str(file)) from exc
    raw = load_yaml(text, str(file))
    return parse_config(raw, str(file), env)


def weekday_name(day: dt.date) -> Weekday:
    return WEEKDAYS[day.weekday()]
