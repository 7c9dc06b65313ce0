"""Sidecar logs: text by default, one JSON object a line with Dapr's fields
(--log-as-json)."""

from __future__ import annotations

import json
import logging
import socket
import sys
from datetime import UTC, datetime

from aiohttp.http_exceptions import HttpProcessingError

from edge import __version__

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL}
_DAPR_LEVEL = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
               logging.ERROR: "error", logging.CRITICAL: "fatal"}


def _rfc3339(created: float) -> str:
    # Dapr writes UTC with a `Z`, which log shippers parse without a timezone table.
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def __init__(self, app_id: str) -> None:
        super().__init__()
        self.app_id = app_id
        self.instance = socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _rfc3339(record.created),
            "level": _DAPR_LEVEL.get(record.levelno, "info"),
            "msg": record.getMessage(),
            "scope": record.name.replace("edge.", "dapr.", 1),
            "type": "log",
            "ver": __version__,
            "app_id": self.app_id,
            "instance": self.instance,
        }
        # Structured fields a caller attached (API call logs: method, code,
        # duration), as daprd puts them beside msg for log shippers to index.
        fields = getattr(record, "dapr_fields", None)
        if isinstance(fields, dict):
            entry.update({k: v for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["msg"] += "\n" + self.formatException(record.exc_info)
        return json.dumps(entry)


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs every unparsable request (port scans, oversized headers) as
    an ERROR with a traceback; that is the client's fault, and on a gateway the
    noise could fill the disk. Such records become one debug line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError) or not 400 <= (exc.code or 0) < 500:
            return True
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "unknown"
        reason = (str(exc.message).splitlines() or [""])[0]
        record.msg, record.args = "rejected a malformed HTTP request from %s: %s", (remote, reason)
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def setup_logging(level: str = "info", as_json: bool = False, app_id: str = "") -> None:
    handler = logging.StreamHandler(sys.stdout)
    if as_json:
        handler.setFormatter(JsonFormatter(app_id))
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)-7s [%(name)s] %(message)s", "%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level.lower(), logging.INFO))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.server").addFilter(MalformedRequestFilter())
