"""Links the pages build from config templates, e.g. the CRM screen pop (``crm_link``)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

CRM_PLACEHOLDERS = {"{caller}": "caller_number", "{call_id}": "call_id", "{queue}": "queue_id"}
"""What ``queues.<id>.crm_link`` may contain, and the call field each one stands for."""


def crm_url(template: str, call: Mapping[str, Any]) -> str:
    """``template`` with every placeholder replaced by the call's value, URL-encoded: a caller
    number with ``&``, ``#`` or ``/`` stays one value and cannot add parameters or a path."""
    url = template
    for placeholder, field in CRM_PLACEHOLDERS.items():
        if placeholder in url:
            value = call.get(field)
            url = url.replace(placeholder, urllib.parse.quote(str(value or ""), safe=""))
    return url
