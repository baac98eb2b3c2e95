"""The HTTP API (aiohttp, JSON): agent control and live status for supervisors.

``make_api_app(control, token)`` builds the application; ``serve_api`` runs it on a port.
Errors leave as ``{"code": ..., "message": ..., "details": ...}`` with an HTTP status chosen
here, at the edge, from the domain error's class.
"""

from callcenter.api.app import AgentControl, make_api_app, serve_api

__all__ = ["AgentControl", "make_api_app", "serve_api"]
