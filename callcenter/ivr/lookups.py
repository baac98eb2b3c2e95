"""Self-service lookups: ask an outside system about what the caller typed (an order number).

A lookup is anything with ``async def lookup(value: str) -> LookupAnswer``. Two real ones ship:

- ``HttpJsonLookup``: GET a URL template (``http://shop/orders/{value}``), read one field of the
  JSON object it answers (404 means "nothing found").
- ``SqlLookup``: run a query with a ``:value`` parameter through SQLAlchemy in a small thread
  pool of its own, read one column of the first row (no row means "nothing found").

Both give up after their ``timeout_seconds`` and raise ``LookupFailedError``; the IVR machine also
runs its own timer, so a lookup that ignores its time-out still cannot hold the caller.
The machine turns the answer into Asterisk sound-file media (``machine.say_media``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import sqlalchemy
import sqlalchemy.exc
from sqlalchemy.engine import Engine

from callcenter.config import Lookup as LookupSettings
from callcenter.errors import CallCenterError

__all__ = [
    "HttpJsonLookup",
    "Lookup",
    "LookupAnswer",
    "LookupFailedError",
    "LookupRegistry",
    "SqlLookup",
]

log = logging.getLogger(__name__)


class LookupFailedError(CallCenterError):
    """The outside system did not answer usefully; ``reason``: timeout, error, bad-answer."""

    code = "lookup-failed"

    def __init__(self, message: str, *, reason: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    """``value`` is what the caller hears (None: nothing found); ``fields`` the whole record."""

    value: str | None
    fields: Mapping[str, str] = field(default_factory=dict)


class Lookup(Protocol):
    """A self-service lookup the IVR can call (per lookup node)."""

    async def lookup(self, value: str) -> LookupAnswer: ...


def _field(record: Mapping[str, Any], path: str) -> Any:
    """``record["order"]["status"]`` for ``path`` "order.status"; None when absent."""
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _flat(record: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in record.items() if isinstance(v, str | int | float | bool)}


class HttpJsonLookup:
    """GET ``url_template`` with ``{value}`` filled in; the answer is a JSON object."""

    def __init__(
        self,
        url_template: str,
        result_field: str = "status",
        timeout_seconds: float = 3.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url_template = url_template
        self.result_field = result_field
        self.timeout_seconds = timeout_seconds
        self._session = session
        self._owns_session = session is None

    def url_for(self, value: str) -> str:
        """The URL to ask; the caller's input is percent-encoded as one path segment."""
        return self.url_template.replace("{value}", urllib.parse.quote(value, safe=""))

    async def lookup(self, value: str) -> LookupAnswer:
        url = self.url_for(value)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        try:
            async with self._session.get(url, timeout=timeout) as response:
                if response.status == 404:
                    return LookupAnswer(None)
                if response.status >= 300:
                    raise LookupFailedError(
                        f"lookup GET {url} answered HTTP {response.status}",
                        reason="error",
                        url=url,
                        status=response.status,
                    )
                body = await response.json(content_type=None)
        except TimeoutError as exc:
            raise LookupFailedError(
                f"lookup GET {url}: no answer within {self.timeout_seconds} s",
                reason="timeout",
                url=url,
            ) from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise LookupFailedError(
                f"lookup GET {url} failed: {exc!r}", reason="error", url=url
            ) from exc
        if not isinstance(body, Mapping):
            raise LookupFailedError(
                f"lookup GET {url}: the answer is not a JSON object", reason="bad-answer", url=url
            )
        return LookupAnswer(_as_text(_field(body, self.result_field)), _flat(body))

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None


class SqlLookup:
    """Run ``query`` (with a ``:value`` parameter) on ``url``; read ``result_field`` of row one.

    SQLAlchemy's engines here are synchronous: queries run in this lookup's own small thread
    pool, so a slow database never blocks the event loop. A query that outlives the time-out
    is interrupted on its connection (sqlite3 ``interrupt()``, psycopg ``cancel()``).
    """

    def __init__(
        self,
        url: str,
        query: str,
        result_field: str = "status",
        timeout_seconds: float = 3.0,
        *,
        max_threads: int = 4,
    ) -> None:
        self.url = url
        self.query = sqlalchemy.text(query)
        self.result_field = result_field
        self.timeout_seconds = timeout_seconds
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()  # two first lookups at once make one engine
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_threads, thread_name_prefix="sql-lookup"
        )

    def _engine_now(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                self._engine = sqlalchemy.create_engine(self.url, pool_pre_ping=True)
            return self._engine

    def _run(self, value: str, running: list[Any]) -> LookupAnswer:
        with self._engine_now().connect() as connection:
            running.append(connection.connection.dbapi_connection)
            try:
                row = connection.execute(self.query, {"value": value}).mappings().first()
            finally:
                running.clear()
        if row is None:
            return LookupAnswer(None)
        record = dict(row)
        return LookupAnswer(_as_text(record.get(self.result_field)), _flat(record))

    async def lookup(self, value: str) -> LookupAnswer:
        loop = asyncio.get_running_loop()
        running: list[Any] = []
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await loop.run_in_executor(self._pool, self._run, value, running)
        except TimeoutError as exc:
            for dbapi_connection in list(running):
                _interrupt(dbapi_connection)
            raise LookupFailedError(
                f"sql lookup: no answer within {self.timeout_seconds} s", reason="timeout"
            ) from exc
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise LookupFailedError(
                f"sql lookup failed: {type(exc).__name__}: {exc}", reason="error"
            ) from exc

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        # A query given up on (timed out, or its caller gone) still holds a connection in its
        # thread: let it give it back before the engine goes, or it would be dropped open when
        # the disposed pool is collected. Bounded: a hung query is left behind.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(self._pool.shutdown), self.timeout_seconds)
        with self._engine_lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


def _interrupt(dbapi_connection: Any) -> None:
    """Stop the statement running on a DBAPI connection, where the driver can."""
    for name in ("interrupt", "cancel"):  # sqlite3, psycopg
        stop = getattr(dbapi_connection, name, None)
        if callable(stop):
            try:
                stop()
            except Exception as exc:  # a driver-specific error; the caller has moved on anyway
                log.warning("could not interrupt a slow sql lookup: %r", exc)
            return


class LookupRegistry:
    """The IVR's lookups by name; built from the config, or given any ``Lookup`` objects."""

    def __init__(self, lookups: Mapping[str, Lookup] | None = None) -> None:
        self._lookups: dict[str, Lookup] = dict(lookups or {})

    @classmethod
    def from_config(cls, settings: Mapping[str, LookupSettings]) -> LookupRegistry:
        """One real lookup per ``ivr.lookups`` entry (``http`` or ``sql``)."""
        lookups: dict[str, Lookup] = {}
        for name, spec in settings.items():
            assert spec.url is not None  # the config model requires it
            if spec.kind == "http":
                lookups[name] = HttpJsonLookup(spec.url, spec.result_field, spec.timeout_seconds)
            else:
                lookups[name] = SqlLookup(
                    spec.url, spec.query or "", spec.result_field, spec.timeout_seconds
                )
        return cls(lookups)

    def get(self, name: str) -> Lookup | None:
        return self._lookups.get(name)

    def register(self, name: str, lookup: Lookup) -> None:
        self._lookups[name] = lookup

    def __contains__(self, name: object) -> bool:
        return name in self._lookups

    async def close(self) -> None:
        """Close every lookup that holds connections (HTTP sessions, SQL engines, threads)."""
        for name, lookup in self._lookups.items():
            close = getattr(lookup, "close", None)
            if close is None:
                continue
            try:
                await close()
            except (OSError, aiohttp.ClientError, sqlalchemy.exc.SQLAlchemyError) as exc:
                log.warning("closing lookup %s failed: %r", name, exc)
