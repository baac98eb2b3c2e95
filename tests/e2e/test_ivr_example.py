"""The example IVR (examples/callcenter.yaml) over the wire: a synthetic caller on the simulated
Asterisk dials 100, the worker runs ``run_ivr`` through ARI, and the caller navigates by DTMF."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from callcenter.asterisk.ari import AriSettings
from callcenter.clock import FixedClock
from callcenter.config import (
    CallCenterConfig,
    Goto,
    Lookup,
    MenuNode,
    SkillRequirement,
    load_config,
)
from callcenter.ivr.driver import run_ivr
from callcenter.ivr.lookups import HttpJsonLookup, LookupAnswer, LookupRegistry
from callcenter.ivr.machine import (
    CallerHungUp,
    Hangup,
    IvrOutcome,
    QueueRequest,
    Transfer,
    Voicemail,
)
from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.pbx import SimCall, SimulatedAsterisk, Stasis
from callcenter.worker import CallSession, Worker, WorkerSettings

APP = "cc-ivr"
USER, PASSWORD = "callcenter", "secret"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
PBX_SPEED = 50.0  # prompts: one simulated second is 20 ms
IVR_SPEED = 10.0  # IVR time-outs: first digit 5 s -> 0.5 s, inter-digit 3 s -> 0.3 s
OPEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in London
SUNDAY = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)

PROMPTS = [
    "welcome",
    "main-menu",
    "transferring-to-sales",
    "option-is-invalid",
    "please-choose",
    "existing-menu",
    "enter-order-number",
    "your-order-status-is",
    "order-not-found",
    "after-status-menu",
    "we-are-closed",
    "opening-hours",
    "shipped",
]


class IvrFlow:
    """The IVR alone: run it, keep the outcome, hang up (the queue is another flow's job)."""

    def __init__(self, config: CallCenterConfig, clock: FixedClock, lookups: LookupRegistry):
        self.config = config
        self.clock = clock
        self.lookups = lookups
        self.sessions: dict[str, CallSession] = {}
        self._outcomes: dict[str, asyncio.Future[IvrOutcome]] = {}

    def _future(self, channel_id: str) -> asyncio.Future[IvrOutcome]:
        if channel_id not in self._outcomes:
            self._outcomes[channel_id] = asyncio.get_running_loop().create_future()
        return self._outcomes[channel_id]

    async def run(self, session: CallSession) -> None:
        self.sessions[session.caller_channel_id] = session
        future = self._future(session.caller_channel_id)
        try:
            outcome = await run_ivr(
                session,
                self.config.ivr,
                self.config.business_hours,
                self.lookups,
                self.clock,
                self.config.timezone,
                speed=IVR_SPEED,
            )
        except BaseException as exc:
            future.set_exception(exc)
            raise
        future.set_result(outcome)
        if not session.caller_left:
            await session.ari.hangup(session.caller_channel_id)

    async def outcome(self, call: SimCall, within: float = 10.0) -> IvrOutcome:
        return await asyncio.wait_for(self._future(call.channel_id), within)

    def session(self, call: SimCall) -> CallSession:
        return self.sessions[call.channel_id]


# --- fixtures ----------------------------------------------------------------------------------


async def _order(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    if number == "5000":
        return web.json_response({"error": "boom"}, status=500)
    if number == "9999":
        return web.json_response({"error": "unknown order"}, status=404)
    return web.json_response({"status": "shipped", "number": number})


@pytest.fixture
async def shop() -> AsyncIterator[str]:
    """The shop's order-status endpoint, a real HTTP server on loopback."""
    app = web.Application()
    app.router.add_get("/orders/{number}", _order)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.fixture
async def hanging_shop() -> AsyncIterator[str]:
    """Accepts the lookup's connection and never answers."""
    writers: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
def config() -> CallCenterConfig:
    return load_config(EXAMPLE, env={})


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[SimulatedAsterisk]:
    pbx = SimulatedAsterisk(speed=PBX_SPEED, recordings_dir=tmp_path)
    pbx.dialplan.route("100", Stasis(APP))
    for name in PROMPTS:
        pbx.add_sound(f"callcenter/{name}", 1.0)  # what `dialplan deploy` installs
    yield pbx
    await pbx.close()


@pytest.fixture
async def server(pbx: SimulatedAsterisk) -> AsyncIterator[AriServer]:
    server = await start_ari_server(pbx, "127.0.0.1", 0, USER, PASSWORD)
    yield server
    await server.close()


@pytest.fixture
async def worker(server: AriServer) -> AsyncIterator[Worker]:
    ari = AriSettings(
        url=server.url,
        username=USER,
        password=PASSWORD,
        app=APP,
        request_timeout=2.0,
        connect_timeout=2.0,
        backoff_initial=0.2,
        backoff_max=0.4,
    )
    worker = Worker(WorkerSettings(ari=ari, http_port=None, drain_grace=2.0, end_grace=0.5))
    await worker.start()
    await worker.ari.wait_connected(within=5)
    yield worker
    await worker.stop(grace=1.0)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(OPEN)


@pytest.fixture
async def lookups(shop: str) -> AsyncIterator[LookupRegistry]:
    registry = LookupRegistry(
        {"order_status": HttpJsonLookup(f"{shop}/orders/{{value}}", "status", 2.0)}
    )
    yield registry
    await registry.close()


@pytest.fixture
def flow(
    worker: Worker, config: CallCenterConfig, clock: FixedClock, lookups: LookupRegistry
) -> IvrFlow:
    flow = IvrFlow(config, clock, lookups)
    worker.register_flow(flow, exten="100")
    return flow


async def hears(call: SimCall, sound: str, within: float = 5.0) -> None:
    """Wait until the caller's phone starts playing our prompt ``sound`` (skipping what came
    before): ``prompt:welcome`` reaches Asterisk as ``sound:callcenter/welcome``."""
    await call.wait_for(
        "playback_started", within, lambda e: e.detail == f"sound:callcenter/{sound}"
    )


async def hears_core_sound(call: SimCall, sound: str, within: float = 5.0) -> None:
    """Wait until the caller's phone starts playing Asterisk's own ``sound:<sound>``."""
    await call.wait_for("playback_started", within, lambda e: e.detail == f"sound:{sound}")


def path(session: CallSession) -> list[str]:
    return [node for node, _ in session.context.ivr_path]


async def no_playbacks_left(pbx: SimulatedAsterisk) -> None:
    async with asyncio.timeout(3):
        while pbx.playbacks:  # noqa: ASYNC110 - the sim's table, nothing to await
            await asyncio.sleep(0.01)


# --- the scenarios -----------------------------------------------------------------------------


async def test_barge_in_order_number_lookup_and_queue(
    flow: IvrFlow, pbx: SimulatedAsterisk
) -> None:
    pbx.add_sound("callcenter/welcome", 500.0)  # ten real seconds: only a barge-in ends it in time
    call = pbx.place_inbound_call("100", "+441632960001", caller_name="Ann")
    await hears(call, "welcome")
    call.send_dtmf("1")  # barge-in
    await hears(call, "existing-menu")
    assert "sound:callcenter/main-menu" not in call.heard  # the rest of main was cut
    call.send_dtmf("1")
    await hears(call, "enter-order-number")
    for digit in "12345#":
        call.send_dtmf(digit)
    await hears(call, "your-order-status-is")
    await hears(call, "shipped")
    await hears(call, "after-status-menu")
    call.send_dtmf("1")

    assert await flow.outcome(call) == QueueRequest("sales", 2)
    session = flow.session(call)
    context = session.context
    assert path(session) == ["main", "existing", "order_number", "order_status", "after_status"]
    assert context.digits == ["1", "1", "1", "2", "3", "4", "5", "#", "1"]
    assert context.variables["order_number"] == "12345"
    assert context.variables["order_status"] == "shipped"
    assert context.variables["ivr_outcome"] == "queue:sales"
    assert context.queue == "sales"
    assert context.caller_number == "+441632960001"
    assert context.dialled == "100"
    times = [at for _, at in context.ivr_path]
    assert times == sorted(times)
    await call.wait_for("hangup")
    await no_playbacks_left(pbx)


async def test_invalid_digit_replays_the_menu(flow: IvrFlow, pbx: SimulatedAsterisk) -> None:
    call = pbx.place_inbound_call("100", "+441632960002")
    await hears(call, "main-menu")
    call.send_dtmf("7")
    await hears(call, "option-is-invalid")
    await hears(call, "welcome")
    call.send_dtmf("2")
    await hears(call, "transferring-to-sales")
    assert await flow.outcome(call) == QueueRequest("sales")
    assert path(flow.session(call)) == ["main"]


async def test_time_outs_exhaust_the_retries_to_the_support_queue(
    flow: IvrFlow, pbx: SimulatedAsterisk
) -> None:
    call = pbx.place_inbound_call("100", "+441632960003")
    assert await flow.outcome(call) == QueueRequest("support")
    assert (
        call.heard.count("sound:callcenter/please-choose") == 4
    )  # 3 re-tries, then once on leaving
    assert call.heard.count("sound:callcenter/welcome") == 4
    assert flow.session(call).context.variables["main_exhausted"] == "timeout"


async def test_invalid_digits_exhaust_the_retries(flow: IvrFlow, pbx: SimulatedAsterisk) -> None:
    pbx.add_sound("callcenter/welcome", 500.0)  # every "8" cuts it: no time-out can count instead
    call = pbx.place_inbound_call("100", "+441632960004")
    for _ in range(4):
        await hears(call, "welcome")
        call.send_dtmf("8")
    assert await flow.outcome(call) == QueueRequest("support")
    assert call.heard.count("sound:callcenter/option-is-invalid") == 4
    assert flow.session(call).context.variables["main_exhausted"] == "invalid"


async def test_french_speakers_get_extra_skills_and_priority(
    flow: IvrFlow, pbx: SimulatedAsterisk
) -> None:
    call = pbx.place_inbound_call("100", "+33102030405")
    await hears(call, "welcome")
    call.send_dtmf("1")
    await hears(call, "existing-menu")
    call.send_dtmf("4")
    assert await flow.outcome(call) == QueueRequest(
        "support", 5, (SkillRequirement(skill="french", min_level=5),)
    )


async def test_digits_pressed_before_the_menu_listens_are_kept(
    flow: IvrFlow, pbx: SimulatedAsterisk
) -> None:
    pbx.add_sound("callcenter/enter-order-number", 500.0)  # still playing at the hang-up
    call = pbx.place_inbound_call("100", "+441632960005")
    await call.wait_for("answered")
    call.send_dtmf("1")  # before (or just as) the first prompt starts
    call.send_dtmf("1")
    await hears(call, "enter-order-number")
    session = flow.session(call)
    assert path(session) == ["main", "existing", "order_number"]
    call.hangup()
    assert await flow.outcome(call) == CallerHungUp("order_number", "prompt")


async def test_outside_business_hours_the_closed_branch_plays(
    flow: IvrFlow, pbx: SimulatedAsterisk, clock: FixedClock
) -> None:
    clock.set(SUNDAY)
    call = pbx.place_inbound_call("100", "+441632960006")
    await hears(call, "we-are-closed")
    call.send_dtmf("1")  # the closed message is not a menu: the digit changes nothing
    await hears(call, "opening-hours")
    assert await flow.outcome(call) == Voicemail("general")
    session = flow.session(call)
    assert path(session) == ["main", "closed"]
    assert session.context.variables["main_closed"] == "yes"
    assert "sound:callcenter/welcome" not in call.heard


async def test_holiday_is_closed_too(flow: IvrFlow, pbx: SimulatedAsterisk, clock: FixedClock):
    clock.set(dt.datetime(2026, 12, 25, 11, 0, tzinfo=dt.UTC))  # a Friday, Christmas
    call = pbx.place_inbound_call("100", "+441632960007")
    assert await flow.outcome(call) == Voicemail("general")


async def order_number_entered(call: SimCall, number: str) -> None:
    await hears(call, "welcome")
    call.send_dtmf("1")
    await hears(call, "existing-menu")
    call.send_dtmf("1")
    await hears(call, "enter-order-number")
    for digit in number + "#":
        call.send_dtmf(digit)


@pytest.mark.parametrize(("number", "reason"), [("5000", "error"), ("9999", "not-found")])
async def test_failing_lookup_plays_the_fallback_and_the_call_goes_on(
    flow: IvrFlow, pbx: SimulatedAsterisk, number: str, reason: str
) -> None:
    call = pbx.place_inbound_call("100", "+441632960008")
    await order_number_entered(call, number)
    await hears(call, "order-not-found")
    await hears(call, "after-status-menu")
    call.send_dtmf("1")
    assert await flow.outcome(call) == QueueRequest("sales", 2)
    variables = flow.session(call).context.variables
    assert variables["order_status_failed"] == reason
    assert "order_status" not in variables
    assert "sound:callcenter/shipped" not in call.heard


async def test_hanging_lookup_times_out_plays_fallback_and_continues(
    flow: IvrFlow,
    pbx: SimulatedAsterisk,
    config: CallCenterConfig,
    lookups: LookupRegistry,
    hanging_shop: str,
) -> None:
    quick = Lookup(kind="http", url=f"{hanging_shop}/orders/{{value}}", timeout_seconds=0.3)
    flow.config = config.model_copy(
        update={"ivr": config.ivr.model_copy(update={"lookups": {"order_status": quick}})}
    )
    # The lookup itself would wait 30 s: the IVR's own 0.3 s timer must cut it short.
    lookups.register(
        "order_status", HttpJsonLookup(f"{hanging_shop}/orders/{{value}}", "status", 30.0)
    )
    pbx.add_sound("callcenter/welcome", 500.0)  # still playing at the hang-up
    call = pbx.place_inbound_call("100", "+441632960010")
    await order_number_entered(call, "12345")
    await hears(call, "order-not-found")
    await hears(call, "after-status-menu")
    session = flow.session(call)
    assert session.context.variables["order_status_failed"] == "timeout"
    assert not session._tasks  # the lookup task was cancelled, not left behind
    call.send_dtmf("9")
    await hears(call, "welcome")
    call.hangup()
    assert await flow.outcome(call) == CallerHungUp("main", "prompt")
    assert path(session)[-2:] == ["after_status", "main"]


@pytest.mark.parametrize(
    ("steps", "node", "stage"),
    [
        (["welcome"], "main", "prompt"),
        (
            ["welcome", "1", "existing-menu", "1", "12"],
            "order_number",
            "waiting",
        ),
    ],
)
async def test_caller_hanging_up_mid_menu_ends_cleanly(
    flow: IvrFlow,
    worker: Worker,
    pbx: SimulatedAsterisk,
    steps: list[str],
    node: str,
    stage: str,
) -> None:
    pbx.add_sound("callcenter/welcome", 500.0)  # still playing at the hang-up
    call = pbx.place_inbound_call("100", "+441632960011")
    for step in steps:
        if step.isdigit():
            for digit in step:
                call.send_dtmf(digit)
        else:
            await hears(call, step)
    if stage == "waiting":
        # The first digit cut the collect prompt: the IVR now waits for the rest.
        await call.wait_for(
            "playback_finished",
            predicate=lambda e: e.detail == "sound:callcenter/enter-order-number",
        )
    call.hangup()
    assert await flow.outcome(call) == CallerHungUp(node, stage)
    session = flow.session(call)
    assert session.context.variables["ivr_outcome"] == f"caller-hung-up:{node}:{stage}"
    await no_playbacks_left(pbx)
    async with asyncio.timeout(3):
        while worker.sessions:  # noqa: ASYNC110 - the worker's table, nothing to await
            await asyncio.sleep(0.01)
    assert not session._tasks
    assert worker.router.claimed_channels == frozenset()


async def test_caller_hanging_up_during_a_hanging_lookup_cancels_it(
    flow: IvrFlow, pbx: SimulatedAsterisk, lookups: LookupRegistry, hanging_shop: str
) -> None:
    lookups.register(
        "order_status", HttpJsonLookup(f"{hanging_shop}/orders/{{value}}", "status", 30.0)
    )
    call = pbx.place_inbound_call("100", "+441632960012")
    await order_number_entered(call, "12345")
    session_ready = asyncio.get_running_loop().time()
    while not flow.session(call)._tasks:
        assert asyncio.get_running_loop().time() - session_ready < 3
        await asyncio.sleep(0.01)
    call.hangup()
    assert await flow.outcome(call) == CallerHungUp("order_status", "lookup")
    await asyncio.sleep(0)
    assert not flow.session(call)._tasks


async def test_missing_sound_files_do_not_hang_the_ivr(
    flow: IvrFlow, pbx: SimulatedAsterisk
) -> None:
    # As on a real Asterisk, an unknown sound gives PlaybackStarted + PlaybackFinished
    # ("failed") at once: the IVR goes on as if the prompt had played (prompts never deployed).
    pbx.sounds.pop("callcenter/welcome")
    pbx.sounds.pop("callcenter/main-menu")
    call = pbx.place_inbound_call("100", "+441632960013")
    await call.wait_for("answered")
    call.send_dtmf("0")
    assert await flow.outcome(call) == QueueRequest("support")


# --- a message node and a transfer added to the example ---------------------------------------


def with_message_and_transfer(config: CallCenterConfig) -> CallCenterConfig:
    """The example plus main -7-> leave_message (record, then goodbye) and -8-> extension 2001."""
    main = config.ivr.menus["main"]
    choices = {**main.choices, "7": Goto(menu="leave_message"), "8": Goto(transfer="2001")}
    leave_message = MenuNode(
        type="record_message",
        prompts=["sound:vm-intro"],  # a core sound: "please leave your message after the tone"
        variable="message",
        next=Goto(hangup=True, prompt="sound:goodbye"),
    )
    menus = {**config.ivr.menus, "main": main.model_copy(update={"choices": choices})}
    menus["leave_message"] = leave_message
    return config.model_copy(update={"ivr": config.ivr.model_copy(update={"menus": menus})})


async def recording_started(pbx: SimulatedAsterisk) -> str:
    async with asyncio.timeout(5):
        while not pbx.live_recordings:  # noqa: ASYNC110 - the sim's table, nothing to await
            await asyncio.sleep(0.01)
    (name,) = pbx.live_recordings
    return name


async def test_caller_leaves_a_message_ended_by_hash(
    flow: IvrFlow, pbx: SimulatedAsterisk, config: CallCenterConfig
) -> None:
    flow.config = with_message_and_transfer(config)
    call = pbx.place_inbound_call("100", "+441632960014")
    await hears(call, "welcome")
    call.send_dtmf("7")
    await hears_core_sound(call, "vm-intro")
    name = await recording_started(pbx)
    call.send_dtmf("#")  # Asterisk's terminateOn ends the recording
    await hears_core_sound(call, "goodbye")
    assert await flow.outcome(call) == Hangup()
    session = flow.session(call)
    assert session.context.variables["message"] == name
    assert name == f"ivr-{session.call_id}-leave_message-2"
    assert (pbx.recordings_dir / f"{name}.wav").is_file()
    assert path(session) == ["main", "leave_message"]


async def test_caller_hanging_up_while_recording(
    flow: IvrFlow, pbx: SimulatedAsterisk, config: CallCenterConfig
) -> None:
    flow.config = with_message_and_transfer(config)
    call = pbx.place_inbound_call("100", "+441632960015")
    await hears(call, "welcome")
    call.send_dtmf("7")
    await recording_started(pbx)
    call.hangup()
    assert await flow.outcome(call) == CallerHungUp("leave_message", "recording")
    await no_playbacks_left(pbx)
    assert not pbx.live_recordings


async def test_transfer_choice(
    flow: IvrFlow, pbx: SimulatedAsterisk, config: CallCenterConfig
) -> None:
    flow.config = with_message_and_transfer(config)
    call = pbx.place_inbound_call("100", "+441632960016")
    await hears(call, "welcome")
    call.send_dtmf("8")
    assert await flow.outcome(call) == Transfer("2001")
    assert flow.session(call).context.variables["ivr_outcome"] == "transfer:2001"


class BrokenLookup:
    """A plug-in lookup with a bug of its own."""

    async def lookup(self, value: str) -> LookupAnswer:
        raise RuntimeError(f"cannot look {value} up")


async def test_a_plug_in_lookup_that_raises_plays_the_fallback(
    flow: IvrFlow, pbx: SimulatedAsterisk, lookups: LookupRegistry
) -> None:
    lookups.register("order_status", BrokenLookup())
    call = pbx.place_inbound_call("100", "+441632960017")
    await order_number_entered(call, "12345")
    await hears(call, "order-not-found")
    await hears(call, "after-status-menu")
    call.send_dtmf("1")
    assert await flow.outcome(call) == QueueRequest("sales", 2)
    failed = flow.session(call).context.variables["order_status_failed"]
    assert failed == "error:RuntimeError"
