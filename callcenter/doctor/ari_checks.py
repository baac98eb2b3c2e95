"""ARI checks: reachable, our user, the Asterisk version, our app, and every sound we play."""

from __future__ import annotations

import asyncio

from callcenter.asterisk.ari_probe import AriProbe
from callcenter.config import CallCenterConfig
from callcenter.doctor.model import Check, failed, passed, skipped
from callcenter.errors import AsteriskUnavailable
from callcenter.ivr.machine import DEFAULT_LOOKUP_FAILURE_PROMPT
from callcenter.sounds import PROMPT_FOLDER, core_sounds, used_sounds
from callcenter.worker.inbound import CALLBACK_CONFIRMATION, VOICEMAIL_GREETING

AREA = "ARI"
SUPPORTED_MAJOR = "22"
# Sounds the worker plays by itself, whatever the config says.
BUILT_IN_MEDIA = (
    ("worker: lookup failure", DEFAULT_LOOKUP_FAILURE_PROMPT),
    ("worker: callback confirmation", CALLBACK_CONFIRMATION),
    ("worker: voicemail greeting", VOICEMAIL_GREETING),
)
PARALLEL_LOOKUPS = 8


async def check_ari(probe: AriProbe, config: CallCenterConfig, *, app: bool) -> list[Check]:
    """Reachable, user accepted, Asterisk 22, and (``app``) our application registered."""
    ari = config.asterisk.ari
    try:
        info = await probe.get("asterisk/info")
    except AsteriskUnavailable as exc:
        return [
            failed(
                AREA,
                "reachable",
                exc.message,
                "start Asterisk; check asterisk.ari.url and http.conf (enabled, bindaddr, "
                "bindport), which `callcenter dialplan deploy` writes",
            )
        ]
    if info.status == 401:
        return [
            passed(AREA, "reachable", ari.url),
            failed(
                AREA,
                "user",
                f"user {ari.username!r} refused: {info.message}",
                f"asterisk.ari.password must be the password of [{ari.username}] in ari.conf "
                "(deploy the rendered ari.conf)",
            ),
        ]
    if info.status != 200 or not isinstance(info.body, dict):
        return [
            failed(
                AREA,
                "reachable",
                f"{ari.url}ari/asterisk/info answered {info.status} {info.message}",
                "load res_ari (ari.conf: enabled = yes) and check the URL's host and port",
            )
        ]
    checks = [
        passed(AREA, "reachable", ari.url),
        passed(AREA, "user", f"{ari.username!r} accepted"),
    ]
    version = str(info.body.get("system", {}).get("version", "unknown"))
    if version.split(".")[0] == SUPPORTED_MAJOR:
        checks.append(passed(AREA, "version", f"Asterisk {version}"))
    else:
        checks.append(
            failed(
                AREA,
                "version",
                f"Asterisk {version}",
                f"callcenter is built and tested against Asterisk {SUPPORTED_MAJOR}",
            )
        )
    if app:
        checks.append(await _check_app(probe, ari.app))
    return checks


async def _check_app(probe: AriProbe, app: str) -> Check:
    try:
        answer = await probe.get("applications", app)
    except AsteriskUnavailable as exc:
        return failed(AREA, "app", exc.message, "check that Asterisk stays up")
    if answer.status == 200:
        return passed(AREA, "app", f"{app!r} registered: a worker's WebSocket is connected")
    return failed(
        AREA,
        "app",
        f"no worker is connected to app {app!r} ({answer.message}): callers go to the fallback",
        "start the worker: callcenter run (each worker needs its own asterisk.ari.app)",
    )


async def check_endpoints(probe: AriProbe, config: CallCenterConfig) -> Check:
    """Every agent's PJSIP endpoint exists and is online (``GET /endpoints/PJSIP``): a PJSIP
    endpoint is online while one of its contacts answers qualify OPTIONS, so offline means the
    phone never registered or stopped answering (``channels/create`` to it answers 500
    "Allocation failed" on Asterisk 22)."""
    fix = (
        "deploy pjsip.conf, then register each phone with its agent's SIP user and password "
        "(sip_secret); a phone that stops answering OPTIONS goes offline"
    )
    if not config.agents:
        return passed("agents", "phones", "no agents configured")
    try:
        answer = await probe.get("endpoints", "PJSIP")
    except AsteriskUnavailable as exc:
        return failed("agents", "phones", exc.message, "check that ARI answers (above)")
    if answer.status != 200 or not isinstance(answer.body, list):
        return failed("agents", "phones", f"GET /endpoints/PJSIP: {answer.message}", fix)
    states = {
        f"PJSIP/{e.get('resource', '')}": str(e.get("state", "unknown"))
        for e in answer.body
        if isinstance(e, dict)
    }
    problems = []
    for agent in config.agents:
        state = states.get(agent.endpoint)
        if state is None:
            problems.append(f"{agent.id} ({agent.endpoint}): no such endpoint")
        elif state != "online":
            problems.append(
                f"{agent.id} ({agent.endpoint}): {state} (not registered, or not answering qualify)"
            )
    if problems:
        shown = "; ".join(problems[:6]) + (
            f"; and {len(problems) - 6} more" if len(problems) > 6 else ""
        )
        return failed("agents", "phones", shown, fix)
    return passed("agents", "phones", f"all {len(config.agents)} registered and reachable")


def records_anything(config: CallCenterConfig) -> bool:
    """True when some call or voicemail message is recorded by Asterisk."""
    policies = [config.recordings.default, *(q.recording for q in config.queues.values())]
    if config.ivr.recording is not None:
        policies.append(config.ivr.recording)
    return bool(config.voicemail) or any(p is not None and p.record != "none" for p in policies)


async def check_recording_spool(probe: AriProbe, config: CallCenterConfig) -> Check:
    """Asterisk can record and list what it recorded (``GET /recordings/stored``): without its
    spool directory (astspooldir/recording) Asterisk 22 answers 500 "Allocation failed" here
    and 500 to every record request, so no conversation or message would be kept."""
    if not records_anything(config):
        return passed("recordings", "spool", "nothing is recorded (recording policies: none)")
    try:
        answer = await probe.get("recordings", "stored")
    except AsteriskUnavailable as exc:
        return failed("recordings", "spool", exc.message, "check that ARI answers (above)")
    if answer.status == 200:
        return passed("recordings", "spool", "Asterisk records and lists its recordings")
    return failed(
        "recordings",
        "spool",
        f"GET /recordings/stored answered {answer.status} {answer.message}",
        "create Asterisk's recording directory (astspooldir in asterisk.conf, usually "
        "/var/spool/asterisk/recording), writable by the asterisk user",
    )


def sounds_to_check(config: CallCenterConfig) -> dict[str, str]:
    """Asterisk sound id -> the first key path that plays it (config and worker built-ins)."""
    wanted: dict[str, str] = {}
    for path, sound_id in used_sounds(config):
        wanted.setdefault(sound_id, path)
    for path, media in BUILT_IN_MEDIA:
        scheme, _, name = media.partition(":")
        if scheme == "sound":
            wanted.setdefault(name, path)
    return wanted


async def check_sounds(probe: AriProbe, config: CallCenterConfig, *, prompts: bool) -> Check:
    """Every sound and prompt we play exists on that Asterisk (``GET /sounds/{id}``)."""
    wanted = sounds_to_check(config)
    if not prompts:  # before a deploy: our prompts are about to be installed
        wanted = {s: p for s, p in wanted.items() if not s.startswith(f"{PROMPT_FOLDER}/")}
    languages = {
        f"{PROMPT_FOLDER}/{prompt_id}": prompt.language
        for prompt_id, prompt in config.prompts.items()
    }
    gate = asyncio.Semaphore(PARALLEL_LOOKUPS)

    async def missing(sound_id: str) -> str | None:
        async with gate:
            answer = await probe.get("sounds", sound_id)
        if answer.status == 404:
            return sound_id
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise AsteriskUnavailable(f"GET /sounds/{sound_id}: {answer.message}")
        language = languages.get(sound_id)
        found = {f.get("language") for f in answer.body.get("formats", [])}
        return f"{sound_id} ({language})" if language and language not in found else None

    try:
        results = await asyncio.gather(*(missing(s) for s in sorted(wanted)))
    except AsteriskUnavailable as exc:
        return failed("sounds", "on Asterisk", exc.message, "check that ARI answers (above)")
    absent = [r for r in results if r is not None]
    if not absent:
        what = "sounds and prompts" if prompts else "core sounds (prompts come with the deploy)"
        return passed("sounds", "on Asterisk", f"all {len(wanted)} {what} we play exist")
    where = [f"{name} at {wanted[name.split(' ')[0]]}" for name in absent]
    shown = "; ".join(where[:5]) + (f"; and {len(where) - 5} more" if len(where) > 5 else "")
    fixes = []
    if any(name.startswith(f"{PROMPT_FOLDER}/") for name in absent):
        fixes.append(
            "install our prompts: callcenter dialplan deploy (or prompts install, then "
            "`module reload sounds`)"
        )
    if any(name.split(" ")[0] in core_sounds() for name in absent):
        fixes.append("install Asterisk's core sounds (asterisk-core-sounds-en)")
    return failed(
        "sounds",
        "on Asterisk",
        f"{len(absent)} of {len(wanted)} missing (a missing sound plays nothing): {shown}",
        "; ".join(fixes) or "use only core sounds and prompts",
    )


def skipped_before_deploy(area: str, name: str) -> Check:
    return skipped(area, name, "checked after the deploy (run callcenter doctor)")
