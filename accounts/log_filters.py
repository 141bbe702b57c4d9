"""Keeping credentials out of the logs: websockets take their JWT in ``?token=``, and
the ASGI server logs every websocket's path with its query string."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"(\btoken=)[^&\s\"']+")
#: The ASGI server's loggers that write request paths.
SERVER_LOGGERS = ("uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """Replaces the value of every ``token=`` in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
