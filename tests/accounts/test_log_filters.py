import logging

from accounts.log_filters import RedactTokens, redact


def test_tokens_in_paths_are_redacted():
    assert redact("/ws/sessions/1/?token=eyJ.abc.def&x=1") == "/ws/sessions/1/?token=[redacted]&x=1"
    assert redact("/ws/events/?a=b") == "/ws/events/?a=b"


def test_the_servers_websocket_log_line_keeps_no_token():
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/events/?token=eyJhbGciOi.secret.sig"), None,
    )  # fmt: skip
    assert RedactTokens().filter(record)
    assert "secret" not in record.getMessage() and "token=[redacted]" in record.getMessage()


def test_the_filter_is_on_the_servers_loggers():
    assert any(isinstance(f, RedactTokens) for f in logging.getLogger("uvicorn.error").filters)
