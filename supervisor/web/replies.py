"""JSON error replies: every refusal names what was wrong and what is allowed.

The body is ``{"error": {"status": 400, "parameter": "limit", "message": "parameter 'limit' must
be an integer from 1 to 5000, got 0"}}`` (``parameter`` only when one parameter is at fault), in
the words the control socket uses for its ``INVALID_PARAMS``.
"""

from __future__ import annotations

import json

__all__ = ["ApiError", "error_json"]


class ApiError(ValueError):
    """A request the API refuses: 400 naming the ``parameter`` at fault, or another ``status``."""

    def __init__(self, parameter: str | None, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.status = status


def error_json(status: int, message: str, parameter: str | None = None, **extra: object) -> bytes:
    """The encoded JSON body of an error reply."""
    error: dict[str, object] = {"status": status, "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    error.update(extra)
    return json.dumps({"error": error}).encode()
