"""Domain errors: a stable code plus details, never HTTP or click types.

The API and the CLI map these at their edges (HTTP status, exit status).
"""

from __future__ import annotations

from typing import Any


class CallCenterError(Exception):
    """Base of every error the product raises on purpose."""

    code = "callcenter-error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ConfigError(CallCenterError):
    """The config file cannot be used: names the file and the key path."""

    code = "config-invalid"


class NotFoundError(CallCenterError):
    code = "not-found"


class ConflictError(CallCenterError):
    code = "conflict"


class AsteriskError(CallCenterError):
    """An ARI or AMI request failed: says which request and what Asterisk answered."""

    code = "asterisk-error"


class AsteriskUnavailable(AsteriskError):
    code = "asterisk-unavailable"
