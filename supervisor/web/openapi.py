"""The API described as an OpenAPI 3.1 document, served at ``/api/v1/openapi.json``; no I/O."""

from __future__ import annotations

from typing import Any, Final

from candlewick._version import __version__
from candlewick.model import INTERVALS
from candlewick.reading import ROW_COLUMNS
from candlewick.web.params import FORMATS, MAX_PAGE

__all__ = ["openapi_document"]

_ERROR: Final = {"description": "JSON error naming the parameter and what it allows", "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}  # fmt: skip


def _param(name: str, description: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


_TIME = {"oneOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}]}
_MARKET = [
    _param("coin", "Coin, e.g. BTC", {"type": "string"}, required=True),
    _param("interval", "Candle interval", {"type": "string", "enum": list(INTERVALS)}, required=True),
]
_RANGE = [
    _param("start", "First open time, inclusive: ms since the epoch or ISO-8601 (UTC unless zoned)", _TIME),
    _param("end", "Open time where the range ends, exclusive", _TIME),
    _param(
        "columns", f"Comma-separated subset of {','.join(ROW_COLUMNS)} (default: all but derived)", {"type": "string"}
    ),
    _param("closed_only", "Leave out the open (not final) candle", {"type": "boolean", "default": False}),
]


def _get(summary: str, params: list[dict[str, Any]], content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    responses = {"200": {"description": summary, "content": content}, "400": _ERROR, "401": _ERROR, "503": _ERROR}
    return {"get": {"summary": summary, "parameters": params, "responses": responses, **extra}}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


_INT, _STR, _BOOL = {"type": "integer"}, {"type": "string"}, {"type": "boolean"}
_OPT_INT = {"type": ["integer", "null"]}
_SCHEMAS: Final[dict[str, Any]] = {
    "Error": _obj(error=_obj(status=_INT, message=_STR, parameter=_STR)),
    "Markets": _obj(
        markets=_list(_obj(coin=_STR, interval=_STR, first=_OPT_INT, last=_OPT_INT, count=_INT, followed=_BOOL))
    ),
    "Candles": _obj(
        coin=_STR,
        interval=_STR,
        columns=_list({"type": "string", "enum": list(ROW_COLUMNS)}),
        rows={
            **_list({"type": "array"}),
            "description": "time and trades are integers, closed a boolean, prices and volume exact decimal strings",
        },
        next={"type": ["string", "null"], "description": "URL of the next page, null at the end"},
    ),
    "Coverage": _obj(coin=_STR, interval=_STR, days=_list(_obj(day=_INT, stored=_INT, expected=_INT, lost=_INT))),
}


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    rows = {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}
    page = _param("limit", f"Rows in this page, 1 to {MAX_PAGE}", {"type": "integer", "default": 1000})
    return {
        "openapi": "3.1.0",
        "info": {"title": "candlewick", "version": __version__, "description": "Read-only candle API"},
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/api/v1/markets": _get("Stored and followed markets", [], _json("Markets")),
            "/api/v1/candles": _get(
                "One page of candles over [start, end), with a next cursor",
                [*_MARKET, *_RANGE, page, _param("format", "Answer format", {"type": "string", "enum": list(FORMATS)})],
                {**_json("Candles"), **rows},
            ),
            "/api/v1/export": _get(
                "The whole range, streamed",
                [*_MARKET, *_RANGE, _param("format", "csv or ndjson", {"type": "string", "enum": list(FORMATS[1:])})],
                rows,
            ),
            "/api/v1/coverage": _get(
                "Per UTC day: candles stored against those expected, confirmed empty, and lost for good",
                [*_MARKET, *_RANGE[:2]],
                _json("Coverage"),
            ),
            "/api/v1/stream": _get(
                "Server-sent events: one `candle` event per update, id = open time; resumes from Last-Event-ID"
                " (at most 5000 replayed, after a `gap` event naming the span skipped)",
                [*_MARKET, _param("last_event_id", "Resume after this open time (or the Last-Event-ID header)", _TIME)],
                {"text/event-stream": {"schema": {"type": "string"}}},
            ),
            "/health": _get(
                "Daemon health; 503 when failing", [], {"application/json": {"schema": {"type": "object"}}}
            ),
            "/metrics": _get("Prometheus exposition", [], {"text/plain": {"schema": {"type": "string"}}}),
        },
    }
