"""The retention job: delete recordings past their ``expires_at`` (file first, then row).

``callcenter recordings purge`` runs it; a cron line or systemd timer runs that daily. The
call's CDR stays: only the audio and its metadata row go (``calls.recording_name`` is cleared).
Deleting the file first means a crash in between leaves a row pointing at nothing, which the
next run removes; never audio with no row (which nobody could find to delete).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from callcenter.cdr.queries import delete_recording_row, expired_recordings
from callcenter.cdr.store import cdr_engine
from callcenter.recording.storage import LocalStorage, StorageError

log = logging.getLogger(__name__)


@dataclass
class PurgeResult:
    deleted: list[str] = field(default_factory=list)
    """Recording names whose file and row are gone."""
    files_already_missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def purge_expired(
    url: str, storage: LocalStorage, now: dt.datetime | None = None, dry_run: bool = False
) -> PurgeResult:
    """Delete every recording whose retention has expired at ``now``."""
    now = now or dt.datetime.now(dt.UTC)
    result = PurgeResult()
    engine = cdr_engine(url)
    try:
        for rec in expired_recordings(engine, now):
            name = rec["name"]
            if dry_run:
                result.deleted.append(name)
                continue
            try:
                existed = storage.delete(rec["storage_url"]) if rec["storage_url"] else False
            except (StorageError, OSError) as exc:
                log.error("call %s: recording %s not deleted: %s", rec["call_id"], name, exc)
                result.failed.append(name)
                continue
            if not existed:
                result.files_already_missing.append(name)
            delete_recording_row(engine, name)
            result.deleted.append(name)
            log.info(
                "call %s: recording %s purged (expired %s)", rec["call_id"], name, rec["expires_at"]
            )
    finally:
        engine.dispose()
    return result
