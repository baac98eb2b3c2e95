"""The CDR writer's durable spool: :mod:`callcenter.db.spool` (shared with routing's journal)."""

from callcenter.db.spool import (
    MAX_SEGMENT_BYTES,
    SEGMENT_PREFIX,
    SEGMENT_SUFFIX,
    Record,
    Spool,
    SpoolError,
    decode_line,
    encode_line,
    read_segment,
)

__all__ = [
    "MAX_SEGMENT_BYTES",
    "SEGMENT_PREFIX",
    "SEGMENT_SUFFIX",
    "Record",
    "Spool",
    "SpoolError",
    "decode_line",
    "encode_line",
    "read_segment",
]
