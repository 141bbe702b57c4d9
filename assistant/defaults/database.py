"""The database as the assistant needs it: ``DATABASE_URL`` when set, and the options
that let its worker threads share it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import env as cfg


def tuned(database: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """``database`` (a ``DATABASES`` entry) with the options the assistant relies on."""
    database = {**database}
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # WAL and IMMEDIATE transactions let the web process's worker threads write
        # while pages read, instead of failing with "database is locked".
        options = {**database.get("OPTIONS", {})}
        options.setdefault("timeout", 20)
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        database["OPTIONS"] = options
        # A file, not memory, so that the processes an end-to-end test starts share it.
        database.setdefault("TEST", {"NAME": str(Path(data_dir) / "test.sqlite3")})
    elif database["ENGINE"] == "django.db.backends.postgresql":
        # A pool per process: a worker streams many answers on threads, each borrowing a
        # connection only while it reads or writes, so PostgreSQL sees a bounded number.
        options = {**database.get("OPTIONS", {})}
        options.setdefault("pool", {"min_size": 1, "max_size": cfg.DATABASE_POOL_SIZE, "timeout": 30})
        database["OPTIONS"] = options
        # The pool checks a connection when it is borrowed: one the server dropped while
        # it sat there (a restart, a failover, pg_terminate_backend) is replaced instead
        # of failing the query that borrowed it.
        database["CONN_HEALTH_CHECKS"] = True
    return database


def databases(default: dict[str, Any] | None = None) -> dict[str, Any]:
    """``DATABASES``: ``DATABASE_URL``'s database when it is set, else ``default`` (else
    SQLite in ``DATA_DIR``), tuned."""
    chosen = (
        cfg.DATABASE
        or default
        or {"ENGINE": "django.db.backends.sqlite3", "NAME": cfg.DATA_DIR / "db.sqlite3"}
    )
    return {"default": tuned(chosen, cfg.DATA_DIR)}
