"""Sidecar logs: text by default, one JSON object a line with Dapr's fields
(--log-as-json)."""

from __future__ import annotations

import json
import logging
import socket
import sys
from datetime import UTC, datetime

from edge import __version__

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL}
_DAPR_LEVEL = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
               logging.ERROR: "error", logging.CRITICAL: "fatal"}


class JsonFormatter(logging.Formatter):
    def __init__(self, app_id: str) -> None:
        super().__init__()
        self.app_id = app_id
        self.instance = socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": _DAPR_LEVEL.get(record.levelno, "info"),
            "msg": record.getMessage(),
            "scope": record.name.replace("edge.", "dapr.", 1),
            "type": "log",
            "ver": __version__,
            "app_id": self.app_id,
            "instance": self.instance,
        }
        if record.exc_info:
            entry["msg"] += "\n" + self.formatException(record.exc_info)
        return json.dumps(entry)


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
