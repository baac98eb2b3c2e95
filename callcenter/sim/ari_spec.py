"""The ARI operations and models the simulated Asterisk serves, as plain data.

One table drives three things: the aiohttp routes (ari_server), the swagger 1.2 documents that
aioari reads when it connects (ari_docs), and the conformance test that compares this table
with Asterisk 22's own api-docs. Names, paths, parameter names and types follow Asterisk 22.10.1
so that a client cannot tell us apart; descriptions are left out on purpose (the real documents
are the reference, we only need the shape).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Param:
    """One operation parameter: where it travels (path/query/body) and its swagger dataType."""

    name: str
    param_type: str
    data_type: str
    required: bool = False
    multiple: bool = False
    default: object = None
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One REST operation: resource file, HTTP method, path (below /ari), swagger nickname."""

    resource: str
    method: str
    path: str
    nickname: str
    response_class: str
    params: tuple[Param, ...]
    errors: tuple[int, ...] = ()
    websocket: bool = False


@dataclass(frozen=True)
class Prop:
    """One model property: swagger type and whether Asterisk always sends it."""

    type: str
    required: bool = False
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Model:
    """A swagger model; event models extend Event (which extends Message)."""

    id: str
    resource: str
    properties: dict[str, Prop] = field(default_factory=dict)
    extends: str | None = None


# Resources in the order Asterisk lists them in resources.json.
RESOURCES: tuple[tuple[str, str], ...] = (
    ("asterisk", "Asterisk resources"),
    ("endpoints", "Endpoint resources"),
    ("channels", "Channel resources"),
    ("bridges", "Bridge resources"),
    ("recordings", "Recording resources"),
    ("sounds", "Sound resources"),
    ("playbacks", "Playback control resources"),
    ("deviceStates", "Device state resources"),
    ("events", "WebSocket resource"),
    ("applications", "Stasis application resources"),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "sounds",
        "GET",
        "/sounds",
        "list",
        "List[Sound]",
        (Param("lang", "query", "string"), Param("format", "query", "string")),
    ),
    Operation(
        "sounds",
        "GET",
        "/sounds/{soundId}",
        "get",
        "Sound",
        (Param("soundId", "path", "string", required=True),),
    ),
    Operation(
        "asterisk",
        "GET",
        "/asterisk/info",
        "getInfo",
        "AsteriskInfo",
        (
            Param(
                "only",
                "query",
                "string",
                multiple=True,
                allowed=("build", "system", "config", "status"),
            ),
        ),
        errors=(),
    ),
    Operation("asterisk", "GET", "/asterisk/ping", "ping", "AsteriskPing", (), errors=()),
    Operation("endpoints", "GET", "/endpoints", "list", "List[Endpoint]", (), errors=()),
    Operation(
        "endpoints",
        "GET",
        "/endpoints/{tech}",
        "listByTech",
        "List[Endpoint]",
        (Param("tech", "path", "string"),),
        errors=(404,),
    ),
    Operation(
        "endpoints",
        "GET",
        "/endpoints/{tech}/{resource}",
        "get",
        "Endpoint",
        (Param("tech", "path", "string"), Param("resource", "path", "string")),
        errors=(400, 404),
    ),
    Operation("channels", "GET", "/channels", "list", "List[Channel]", (), errors=()),
    Operation(
        "channels",
        "POST",
        "/channels",
        "originate",
        "Channel",
        (
            Param("endpoint", "query", "string", required=True),
            Param("extension", "query", "string"),
            Param("context", "query", "string"),
            Param("priority", "query", "long"),
            Param("label", "query", "string"),
            Param("app", "query", "string"),
            Param("appArgs", "query", "string"),
            Param("callerId", "query", "string"),
            Param("timeout", "query", "int", default=30),
            Param("variables", "body", "containers"),
            Param("channelId", "query", "string"),
            Param("otherChannelId", "query", "string"),
            Param("originator", "query", "string"),
            Param("formats", "query", "string"),
        ),
        errors=(400, 409),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/create",
        "create",
        "Channel",
        (
            Param("endpoint", "query", "string", required=True),
            Param("app", "query", "string", required=True),
            Param("appArgs", "query", "string"),
            Param("channelId", "query", "string"),
            Param("otherChannelId", "query", "string"),
            Param("originator", "query", "string"),
            Param("formats", "query", "string"),
            Param("variables", "body", "containers"),
        ),
        errors=(409,),
    ),
    Operation(
        "channels",
        "GET",
        "/channels/{channelId}",
        "get",
        "Channel",
        (Param("channelId", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}",
        "originateWithId",
        "Channel",
        (
            Param("channelId", "path", "string", required=True),
            Param("endpoint", "query", "string", required=True),
            Param("extension", "query", "string"),
            Param("context", "query", "string"),
            Param("priority", "query", "long"),
            Param("label", "query", "string"),
            Param("app", "query", "string"),
            Param("appArgs", "query", "string"),
            Param("callerId", "query", "string"),
            Param("timeout", "query", "int", default=30),
            Param("variables", "body", "containers"),
            Param("otherChannelId", "query", "string"),
            Param("originator", "query", "string"),
            Param("formats", "query", "string"),
        ),
        errors=(400, 409),
    ),
    Operation(
        "channels",
        "DELETE",
        "/channels/{channelId}",
        "hangup",
        "void",
        (
            Param("channelId", "path", "string", required=True),
            Param("reason_code", "query", "string"),
            Param(
                "reason",
                "query",
                "string",
                allowed=(
                    "normal",
                    "busy",
                    "congestion",
                    "no_answer",
                    "timeout",
                    "rejected",
                    "unallocated",
                    "normal_unspecified",
                    "number_incomplete",
                    "codec_mismatch",
                    "interworking",
                    "failure",
                    "answered_elsewhere",
                ),
            ),
        ),
        errors=(400, 404),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/continue",
        "continueInDialplan",
        "void",
        (
            Param("channelId", "path", "string", required=True),
            Param("context", "query", "string"),
            Param("extension", "query", "string"),
            Param("priority", "query", "int"),
            Param("label", "query", "string"),
        ),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/redirect",
        "redirect",
        "void",
        (
            Param("channelId", "path", "string", required=True),
            Param("endpoint", "query", "string", required=True),
        ),
        errors=(400, 404, 409, 422, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/answer",
        "answer",
        "void",
        (Param("channelId", "path", "string", required=True),),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/ring",
        "ring",
        "void",
        (Param("channelId", "path", "string", required=True),),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "DELETE",
        "/channels/{channelId}/ring",
        "ringStop",
        "void",
        (Param("channelId", "path", "string", required=True),),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/dtmf",
        "sendDTMF",
        "void",
        (
            Param("channelId", "path", "string", required=True),
            Param("dtmf", "query", "string"),
            Param("before", "query", "int", default=0),
            Param("between", "query", "int", default=100),
            Param("duration", "query", "int", default=100),
            Param("after", "query", "int", default=0),
        ),
        errors=(400, 404, 409, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/mute",
        "mute",
        "void",
        (
            Param("channelId", "path", "string", required=True),
            Param("direction", "query", "string", default="both", allowed=("both", "in", "out")),
        ),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "DELETE",
        "/channels/{channelId}/mute",
        "unmute",
        "void",
        (
            Param("channelId", "path", "string", required=True),
            Param("direction", "query", "string", default="both", allowed=("both", "in", "out")),
        ),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/hold",
        "hold",
        "void",
        (Param("channelId", "path", "string", required=True),),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "DELETE",
        "/channels/{channelId}/hold",
        "unhold",
        "void",
        (Param("channelId", "path", "string", required=True),),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/moh",
        "startMoh",
        "void",
        (Param("channelId", "path", "string", required=True), Param("mohClass", "query", "string")),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "DELETE",
        "/channels/{channelId}/moh",
        "stopMoh",
        "void",
        (Param("channelId", "path", "string", required=True),),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/play",
        "play",
        "Playback",
        (
            Param("channelId", "path", "string", required=True),
            Param("media", "query", "string", required=True, multiple=True),
            Param("lang", "query", "string"),
            Param("offsetms", "query", "int"),
            Param("skipms", "query", "int", default=3000),
            Param("playbackId", "query", "string"),
        ),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/play/{playbackId}",
        "playWithId",
        "Playback",
        (
            Param("channelId", "path", "string", required=True),
            Param("playbackId", "path", "string", required=True),
            Param("media", "query", "string", required=True, multiple=True),
            Param("lang", "query", "string"),
            Param("offsetms", "query", "int"),
            Param("skipms", "query", "int", default=3000),
        ),
        errors=(404, 409, 412),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/record",
        "record",
        "LiveRecording",
        (
            Param("channelId", "path", "string", required=True),
            Param("name", "query", "string", required=True),
            Param("format", "query", "string", required=True),
            Param("maxDurationSeconds", "query", "int", default=0),
            Param("maxSilenceSeconds", "query", "int", default=0),
            Param(
                "ifExists",
                "query",
                "string",
                default="fail",
                allowed=("fail", "overwrite", "append"),
            ),
            Param("beep", "query", "boolean", default=False),
            Param(
                "terminateOn", "query", "string", default="none", allowed=("none", "any", "*", "#")
            ),
        ),
        errors=(400, 404, 409, 422),
    ),
    Operation(
        "channels",
        "GET",
        "/channels/{channelId}/variable",
        "getChannelVar",
        "Variable",
        (
            Param("channelId", "path", "string", required=True),
            Param("variable", "query", "string", required=True),
        ),
        errors=(400, 404, 409),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/variable",
        "setChannelVar",
        "void",
        (
            Param("channelId", "path", "string", required=True),
            Param("variable", "query", "string", required=True),
            Param("value", "query", "string"),
            Param("report_events", "query", "boolean", default=False),
        ),
        errors=(400, 404, 409),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/snoop",
        "snoopChannel",
        "Channel",
        (
            Param("channelId", "path", "string", required=True),
            Param("spy", "query", "string", default="none", allowed=("none", "both", "out", "in")),
            Param(
                "whisper", "query", "string", default="none", allowed=("none", "both", "out", "in")
            ),
            Param("app", "query", "string", required=True),
            Param("appArgs", "query", "string"),
            Param("snoopId", "query", "string"),
        ),
        errors=(400, 404),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/snoop/{snoopId}",
        "snoopChannelWithId",
        "Channel",
        (
            Param("channelId", "path", "string", required=True),
            Param("snoopId", "path", "string", required=True),
            Param("spy", "query", "string", default="none", allowed=("none", "both", "out", "in")),
            Param(
                "whisper", "query", "string", default="none", allowed=("none", "both", "out", "in")
            ),
            Param("app", "query", "string", required=True),
            Param("appArgs", "query", "string"),
        ),
        errors=(400, 404),
    ),
    Operation(
        "channels",
        "POST",
        "/channels/{channelId}/dial",
        "dial",
        "void",
        (
            Param("channelId", "path", "string", required=True),
            Param("caller", "query", "string"),
            Param("timeout", "query", "int", default=0),
        ),
        errors=(404, 409),
    ),
    Operation("bridges", "GET", "/bridges", "list", "List[Bridge]", (), errors=()),
    Operation(
        "bridges",
        "POST",
        "/bridges",
        "create",
        "Bridge",
        (
            Param("type", "query", "string"),
            Param("bridgeId", "query", "string"),
            Param("name", "query", "string"),
            Param("variables", "body", "containers"),
        ),
        errors=(409,),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}",
        "createWithId",
        "Bridge",
        (
            Param("type", "query", "string"),
            Param("bridgeId", "path", "string", required=True),
            Param("name", "query", "string"),
            Param("variables", "body", "containers"),
        ),
        errors=(409,),
    ),
    Operation(
        "bridges",
        "GET",
        "/bridges/{bridgeId}",
        "get",
        "Bridge",
        (Param("bridgeId", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "bridges",
        "DELETE",
        "/bridges/{bridgeId}",
        "destroy",
        "void",
        (Param("bridgeId", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/addChannel",
        "addChannel",
        "void",
        (
            Param("bridgeId", "path", "string", required=True),
            Param("channel", "query", "string", required=True, multiple=True),
            Param("role", "query", "string"),
            Param("absorbDTMF", "query", "boolean", default=False),
            Param("mute", "query", "boolean", default=False),
            Param("inhibitConnectedLineUpdates", "query", "boolean", default=False),
        ),
        errors=(400, 404, 409, 422),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/removeChannel",
        "removeChannel",
        "void",
        (
            Param("bridgeId", "path", "string", required=True),
            Param("channel", "query", "string", required=True, multiple=True),
        ),
        errors=(400, 404, 409, 422),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/moh",
        "startMoh",
        "void",
        (Param("bridgeId", "path", "string", required=True), Param("mohClass", "query", "string")),
        errors=(404, 409),
    ),
    Operation(
        "bridges",
        "DELETE",
        "/bridges/{bridgeId}/moh",
        "stopMoh",
        "void",
        (Param("bridgeId", "path", "string", required=True),),
        errors=(404, 409),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/play",
        "play",
        "Playback",
        (
            Param("bridgeId", "path", "string", required=True),
            Param("media", "query", "string", required=True, multiple=True),
            Param("announcer_format", "query", "string"),
            Param("lang", "query", "string"),
            Param("offsetms", "query", "int", default=0),
            Param("skipms", "query", "int", default=3000),
            Param("playbackId", "query", "string"),
        ),
        errors=(404, 409, 422),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/play/{playbackId}",
        "playWithId",
        "Playback",
        (
            Param("bridgeId", "path", "string", required=True),
            Param("playbackId", "path", "string", required=True),
            Param("media", "query", "string", required=True, multiple=True),
            Param("announcer_format", "query", "string"),
            Param("lang", "query", "string"),
            Param("offsetms", "query", "int", default=0),
            Param("skipms", "query", "int", default=3000),
        ),
        errors=(404, 409, 422),
    ),
    Operation(
        "bridges",
        "POST",
        "/bridges/{bridgeId}/record",
        "record",
        "LiveRecording",
        (
            Param("bridgeId", "path", "string", required=True),
            Param("name", "query", "string", required=True),
            Param("format", "query", "string", required=True),
            Param("recorder_format", "query", "string"),
            Param("maxDurationSeconds", "query", "int", default=0),
            Param("maxSilenceSeconds", "query", "int", default=0),
            Param(
                "ifExists",
                "query",
                "string",
                default="fail",
                allowed=("fail", "overwrite", "append"),
            ),
            Param("beep", "query", "boolean", default=False),
            Param(
                "terminateOn", "query", "string", default="none", allowed=("none", "any", "*", "#")
            ),
        ),
        errors=(400, 404, 409, 422),
    ),
    Operation(
        "recordings",
        "GET",
        "/recordings/stored",
        "listStored",
        "List[StoredRecording]",
        (),
        errors=(),
    ),
    Operation(
        "recordings",
        "GET",
        "/recordings/stored/{recordingName}",
        "getStored",
        "StoredRecording",
        (Param("recordingName", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "recordings",
        "DELETE",
        "/recordings/stored/{recordingName}",
        "deleteStored",
        "void",
        (Param("recordingName", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "recordings",
        "GET",
        "/recordings/stored/{recordingName}/file",
        "getStoredFile",
        "binary",
        (Param("recordingName", "path", "string", required=True),),
        errors=(403, 404),
    ),
    Operation(
        "recordings",
        "POST",
        "/recordings/stored/{recordingName}/copy",
        "copyStored",
        "StoredRecording",
        (
            Param("recordingName", "path", "string", required=True),
            Param("destinationRecordingName", "query", "string", required=True),
        ),
        errors=(404, 409),
    ),
    Operation(
        "recordings",
        "GET",
        "/recordings/live/{recordingName}",
        "getLive",
        "LiveRecording",
        (Param("recordingName", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "recordings",
        "DELETE",
        "/recordings/live/{recordingName}",
        "cancel",
        "void",
        (Param("recordingName", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "recordings",
        "POST",
        "/recordings/live/{recordingName}/stop",
        "stop",
        "void",
        (Param("recordingName", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "recordings",
        "POST",
        "/recordings/live/{recordingName}/pause",
        "pause",
        "void",
        (Param("recordingName", "path", "string", required=True),),
        errors=(404, 409),
    ),
    Operation(
        "recordings",
        "DELETE",
        "/recordings/live/{recordingName}/pause",
        "unpause",
        "void",
        (Param("recordingName", "path", "string", required=True),),
        errors=(404, 409),
    ),
    Operation(
        "recordings",
        "POST",
        "/recordings/live/{recordingName}/mute",
        "mute",
        "void",
        (Param("recordingName", "path", "string", required=True),),
        errors=(404, 409),
    ),
    Operation(
        "recordings",
        "DELETE",
        "/recordings/live/{recordingName}/mute",
        "unmute",
        "void",
        (Param("recordingName", "path", "string", required=True),),
        errors=(404, 409),
    ),
    Operation(
        "playbacks",
        "GET",
        "/playbacks/{playbackId}",
        "get",
        "Playback",
        (Param("playbackId", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "playbacks",
        "DELETE",
        "/playbacks/{playbackId}",
        "stop",
        "void",
        (Param("playbackId", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "playbacks",
        "POST",
        "/playbacks/{playbackId}/control",
        "control",
        "void",
        (
            Param("playbackId", "path", "string", required=True),
            Param(
                "operation",
                "query",
                "string",
                required=True,
                allowed=("restart", "pause", "unpause", "reverse", "forward"),
            ),
        ),
        errors=(400, 404, 409),
    ),
    Operation("deviceStates", "GET", "/deviceStates", "list", "List[DeviceState]", (), errors=()),
    Operation(
        "deviceStates",
        "GET",
        "/deviceStates/{deviceName}",
        "get",
        "DeviceState",
        (Param("deviceName", "path", "string", required=True),),
        errors=(),
    ),
    Operation(
        "deviceStates",
        "PUT",
        "/deviceStates/{deviceName}",
        "update",
        "void",
        (
            Param("deviceName", "path", "string", required=True),
            Param(
                "deviceState",
                "query",
                "string",
                required=True,
                allowed=(
                    "NOT_INUSE",
                    "INUSE",
                    "BUSY",
                    "INVALID",
                    "UNAVAILABLE",
                    "RINGING",
                    "RINGINUSE",
                    "ONHOLD",
                ),
            ),
        ),
        errors=(404, 409),
    ),
    Operation(
        "deviceStates",
        "DELETE",
        "/deviceStates/{deviceName}",
        "delete",
        "void",
        (Param("deviceName", "path", "string", required=True),),
        errors=(404, 409),
    ),
    Operation(
        "events",
        "GET",
        "/events",
        "eventWebsocket",
        "Message",
        (
            Param("app", "query", "string", required=True, multiple=True),
            Param("subscribeAll", "query", "boolean"),
        ),
        errors=(),
        websocket=True,
    ),
    Operation("applications", "GET", "/applications", "list", "List[Application]", (), errors=()),
    Operation(
        "applications",
        "GET",
        "/applications/{applicationName}",
        "get",
        "Application",
        (Param("applicationName", "path", "string", required=True),),
        errors=(404,),
    ),
    Operation(
        "applications",
        "POST",
        "/applications/{applicationName}/subscription",
        "subscribe",
        "Application",
        (
            Param("applicationName", "path", "string", required=True),
            Param("eventSource", "query", "string", required=True, multiple=True),
        ),
        errors=(400, 404, 422),
    ),
    Operation(
        "applications",
        "DELETE",
        "/applications/{applicationName}/subscription",
        "unsubscribe",
        "Application",
        (
            Param("applicationName", "path", "string", required=True),
            Param("eventSource", "query", "string", required=True, multiple=True),
        ),
        errors=(400, 404, 409, 422),
    ),
    Operation(
        "applications",
        "PUT",
        "/applications/{applicationName}/eventFilter",
        "filter",
        "Application",
        (
            Param("applicationName", "path", "string", required=True),
            Param("filter", "body", "object"),
        ),
        errors=(400, 404),
    ),
)

MODELS: dict[str, Model] = {
    "Channel": Model(
        "Channel",
        "channels",
        {
            "id": Prop("string", required=True),
            "protocol_id": Prop("string", required=True),
            "name": Prop("string", required=True),
            "state": Prop(
                "string",
                required=True,
                allowed=(
                    "Down",
                    "Rsrved",
                    "OffHook",
                    "Dialing",
                    "Ring",
                    "Ringing",
                    "Up",
                    "Busy",
                    "Dialing Offhook",
                    "Pre-ring",
                    "Unknown",
                ),
            ),
            "caller": Prop("CallerID", required=True),
            "connected": Prop("CallerID", required=True),
            "accountcode": Prop("string", required=True),
            "dialplan": Prop("DialplanCEP", required=True),
            "creationtime": Prop("Date", required=True),
            "language": Prop("string", required=True),
            "channelvars": Prop("object"),
            "caller_rdnis": Prop("string"),
            "tenantid": Prop("string"),
        },
    ),
    "CallerID": Model(
        "CallerID",
        "channels",
        {"name": Prop("string", required=True), "number": Prop("string", required=True)},
    ),
    "DialplanCEP": Model(
        "DialplanCEP",
        "channels",
        {
            "context": Prop("string", required=True),
            "exten": Prop("string", required=True),
            "priority": Prop("long", required=True),
            "app_name": Prop("string", required=True),
            "app_data": Prop("string", required=True),
        },
    ),
    "Bridge": Model(
        "Bridge",
        "bridges",
        {
            "id": Prop("string", required=True),
            "technology": Prop("string", required=True),
            "bridge_type": Prop("string", required=True, allowed=("mixing", "holding")),
            "bridge_class": Prop("string", required=True),
            "creator": Prop("string", required=True),
            "name": Prop("string", required=True),
            "channels": Prop("List[string]", required=True),
            "video_mode": Prop("string"),
            "video_source_id": Prop("string"),
            "creationtime": Prop("Date", required=True),
            "bridgevars": Prop("object"),
        },
    ),
    "FormatLangPair": Model(
        "FormatLangPair",
        "sounds",
        {"language": Prop("string", required=True), "format": Prop("string", required=True)},
    ),
    "Sound": Model(
        "Sound",
        "sounds",
        {
            "id": Prop("string", required=True),
            "text": Prop("string"),
            "formats": Prop("List[FormatLangPair]", required=True),
        },
    ),
    "Playback": Model(
        "Playback",
        "playbacks",
        {
            "id": Prop("string", required=True),
            "media_uri": Prop("string", required=True),
            "next_media_uri": Prop("string"),
            "target_uri": Prop("string", required=True),
            "language": Prop("string"),
            "state": Prop(
                "string",
                required=True,
                allowed=("queued", "playing", "continuing", "done", "failed"),
            ),
        },
    ),
    "StoredRecording": Model(
        "StoredRecording",
        "recordings",
        {"name": Prop("string", required=True), "format": Prop("string", required=True)},
    ),
    "LiveRecording": Model(
        "LiveRecording",
        "recordings",
        {
            "name": Prop("string", required=True),
            "format": Prop("string", required=True),
            "target_uri": Prop("string", required=True),
            "state": Prop(
                "string",
                required=True,
                allowed=("queued", "recording", "paused", "done", "failed", "canceled"),
            ),
            "duration": Prop("int"),
            "talking_duration": Prop("int"),
            "silence_duration": Prop("int"),
            "cause": Prop("string"),
        },
    ),
    "Endpoint": Model(
        "Endpoint",
        "endpoints",
        {
            "technology": Prop("string", required=True),
            "resource": Prop("string", required=True),
            "state": Prop("string", allowed=("unknown", "offline", "online")),
            "channel_ids": Prop("List[string]", required=True),
        },
    ),
    "DeviceState": Model(
        "DeviceState",
        "deviceStates",
        {
            "name": Prop("string", required=True),
            "state": Prop(
                "string",
                required=True,
                allowed=(
                    "UNKNOWN",
                    "NOT_INUSE",
                    "INUSE",
                    "BUSY",
                    "INVALID",
                    "UNAVAILABLE",
                    "RINGING",
                    "RINGINUSE",
                    "ONHOLD",
                ),
            ),
        },
    ),
    "Application": Model(
        "Application",
        "applications",
        {
            "name": Prop("string", required=True),
            "channel_ids": Prop("List[string]", required=True),
            "bridge_ids": Prop("List[string]", required=True),
            "endpoint_ids": Prop("List[string]", required=True),
            "device_names": Prop("List[string]", required=True),
            "events_allowed": Prop("List[object]", required=True),
            "events_disallowed": Prop("List[object]", required=True),
        },
    ),
    "AsteriskInfo": Model(
        "AsteriskInfo",
        "asterisk",
        {
            "build": Prop("BuildInfo"),
            "system": Prop("SystemInfo"),
            "config": Prop("ConfigInfo"),
            "status": Prop("StatusInfo"),
        },
    ),
    "BuildInfo": Model(
        "BuildInfo",
        "asterisk",
        {
            "os": Prop("string", required=True),
            "kernel": Prop("string", required=True),
            "options": Prop("string", required=True),
            "machine": Prop("string", required=True),
            "date": Prop("string", required=True),
            "user": Prop("string", required=True),
        },
    ),
    "SystemInfo": Model(
        "SystemInfo",
        "asterisk",
        {"version": Prop("string", required=True), "entity_id": Prop("string", required=True)},
    ),
    "ConfigInfo": Model(
        "ConfigInfo",
        "asterisk",
        {
            "name": Prop("string", required=True),
            "default_language": Prop("string", required=True),
            "max_channels": Prop("int"),
            "max_open_files": Prop("int"),
            "max_load": Prop("double"),
            "setid": Prop("SetId", required=True),
        },
    ),
    "SetId": Model(
        "SetId",
        "asterisk",
        {"user": Prop("string", required=True), "group": Prop("string", required=True)},
    ),
    "StatusInfo": Model(
        "StatusInfo",
        "asterisk",
        {
            "startup_time": Prop("Date", required=True),
            "last_reload_time": Prop("Date", required=True),
        },
    ),
    "AsteriskPing": Model(
        "AsteriskPing",
        "asterisk",
        {
            "asterisk_id": Prop("string", required=True),
            "ping": Prop("string", required=True),
            "timestamp": Prop("string", required=True),
        },
    ),
    "Variable": Model("Variable", "asterisk", {"value": Prop("string", required=True)}),
    "Message": Model(
        "Message", "events", {"type": Prop("string", required=True), "asterisk_id": Prop("string")}
    ),
    "MissingParams": Model(
        "MissingParams",
        "events",
        {"params": Prop("List[string]", required=True)},
        extends="Message",
    ),
    "Event": Model(
        "Event",
        "events",
        {"application": Prop("string", required=True), "timestamp": Prop("Date", required=True)},
        extends="Message",
    ),
    "DeviceStateChanged": Model(
        "DeviceStateChanged",
        "events",
        {"device_state": Prop("DeviceState", required=True)},
        extends="Event",
    ),
    "PlaybackStarted": Model(
        "PlaybackStarted", "events", {"playback": Prop("Playback", required=True)}, extends="Event"
    ),
    "PlaybackContinuing": Model(
        "PlaybackContinuing",
        "events",
        {"playback": Prop("Playback", required=True)},
        extends="Event",
    ),
    "PlaybackFinished": Model(
        "PlaybackFinished", "events", {"playback": Prop("Playback", required=True)}, extends="Event"
    ),
    "RecordingStarted": Model(
        "RecordingStarted",
        "events",
        {"recording": Prop("LiveRecording", required=True)},
        extends="Event",
    ),
    "RecordingFinished": Model(
        "RecordingFinished",
        "events",
        {"recording": Prop("LiveRecording", required=True)},
        extends="Event",
    ),
    "RecordingFailed": Model(
        "RecordingFailed",
        "events",
        {"recording": Prop("LiveRecording", required=True)},
        extends="Event",
    ),
    "ApplicationReplaced": Model("ApplicationReplaced", "events", {}, extends="Event"),
    "BridgeCreated": Model(
        "BridgeCreated", "events", {"bridge": Prop("Bridge", required=True)}, extends="Event"
    ),
    "BridgeDestroyed": Model(
        "BridgeDestroyed", "events", {"bridge": Prop("Bridge", required=True)}, extends="Event"
    ),
    "ChannelCreated": Model(
        "ChannelCreated", "events", {"channel": Prop("Channel", required=True)}, extends="Event"
    ),
    "ChannelDestroyed": Model(
        "ChannelDestroyed",
        "events",
        {
            "cause": Prop("int", required=True),
            "cause_txt": Prop("string", required=True),
            "tech_cause": Prop("int"),
            "channel": Prop("Channel", required=True),
        },
        extends="Event",
    ),
    "ChannelEnteredBridge": Model(
        "ChannelEnteredBridge",
        "events",
        {"bridge": Prop("Bridge", required=True), "channel": Prop("Channel")},
        extends="Event",
    ),
    "ChannelLeftBridge": Model(
        "ChannelLeftBridge",
        "events",
        {"bridge": Prop("Bridge", required=True), "channel": Prop("Channel", required=True)},
        extends="Event",
    ),
    "ChannelStateChange": Model(
        "ChannelStateChange", "events", {"channel": Prop("Channel", required=True)}, extends="Event"
    ),
    "ChannelDtmfReceived": Model(
        "ChannelDtmfReceived",
        "events",
        {
            "digit": Prop("string", required=True),
            "duration_ms": Prop("int", required=True),
            "channel": Prop("Channel", required=True),
        },
        extends="Event",
    ),
    "ChannelDialplan": Model(
        "ChannelDialplan",
        "events",
        {
            "channel": Prop("Channel", required=True),
            "dialplan_app": Prop("string", required=True),
            "dialplan_app_data": Prop("string", required=True),
        },
        extends="Event",
    ),
    "ChannelHangupRequest": Model(
        "ChannelHangupRequest",
        "events",
        {
            "cause": Prop("int"),
            "tech_cause": Prop("int"),
            "soft": Prop("boolean"),
            "channel": Prop("Channel", required=True),
        },
        extends="Event",
    ),
    "ChannelVarset": Model(
        "ChannelVarset",
        "events",
        {
            "variable": Prop("string", required=True),
            "value": Prop("string", required=True),
            "channel": Prop("Channel"),
        },
        extends="Event",
    ),
    "ChannelHold": Model(
        "ChannelHold",
        "events",
        {"channel": Prop("Channel", required=True), "musicclass": Prop("string")},
        extends="Event",
    ),
    "ChannelUnhold": Model(
        "ChannelUnhold", "events", {"channel": Prop("Channel", required=True)}, extends="Event"
    ),
    "EndpointStateChange": Model(
        "EndpointStateChange",
        "events",
        {"endpoint": Prop("Endpoint", required=True)},
        extends="Event",
    ),
    "ContactStatusChange": Model(
        "ContactStatusChange",
        "events",
        {
            "endpoint": Prop("Endpoint", required=True),
            "contact_info": Prop("ContactInfo", required=True),
        },
        extends="Event",
    ),
    "PeerStatusChange": Model(
        "PeerStatusChange",
        "events",
        {"endpoint": Prop("Endpoint", required=True), "peer": Prop("Peer", required=True)},
        extends="Event",
    ),
    "ContactInfo": Model(
        "ContactInfo",
        "events",
        {
            "uri": Prop("string", required=True),
            "contact_status": Prop("string", required=True),
            "aor": Prop("string", required=True),
            "roundtrip_usec": Prop("string"),
        },
    ),
    "Peer": Model(
        "Peer",
        "events",
        {
            "peer_status": Prop("string", required=True),
            "cause": Prop("string"),
            "address": Prop("string"),
            "port": Prop("string"),
            "time": Prop("string"),
        },
    ),
    "Dial": Model(
        "Dial",
        "events",
        {
            "caller": Prop("Channel"),
            "peer": Prop("Channel", required=True),
            "forward": Prop("string"),
            "forwarded": Prop("Channel"),
            "dialstring": Prop("string"),
            "dialstatus": Prop("string", required=True),
        },
        extends="Event",
    ),
    "StasisEnd": Model(
        "StasisEnd", "events", {"channel": Prop("Channel", required=True)}, extends="Event"
    ),
    "StasisStart": Model(
        "StasisStart",
        "events",
        {
            "args": Prop("List[string]", required=True),
            "channel": Prop("Channel", required=True),
            "replace_channel": Prop("Channel"),
        },
        extends="Event",
    ),
    "ChannelConnectedLine": Model(
        "ChannelConnectedLine",
        "events",
        {"channel": Prop("Channel", required=True)},
        extends="Event",
    ),
}


def model_properties(model_id: str) -> dict[str, Prop]:
    """All properties of a model, including those inherited through ``extends``."""
    model = MODELS[model_id]
    inherited = model_properties(model.extends) if model.extends else {}
    return {**inherited, **model.properties}


def operations_of(resource: str) -> list[Operation]:
    """The operations of one resource file, in table order."""
    return [op for op in OPERATIONS if op.resource == resource]
