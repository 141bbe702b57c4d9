"""The built-in agents: ``usage_report``, a report of the owner's own assistant usage
(it reads only the task owner's rows), and ``run_command``, which runs one of the
commands the operator allows (none by default) and streams its output."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
from datetime import timedelta
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from assistant.conf import assistant_settings
from assistant.models import AIUsage, ChatSession
from assistant.services import usage_period_start, usage_total
from events.exceptions import EventHandlerError

from .conf import agents_settings
from .registry import Agent, AgentInputError, register

MAX_DAYS = 366


def _tokens(rows) -> dict[str, int]:
    totals = rows.aggregate(
        calls=Count("pk"),
        prompt=Sum("prompt_tokens"),
        completion=Sum("completion_tokens"),
        total=Sum("total_tokens"),
    )
    return {
        "calls": totals["calls"],
        "prompt_tokens": totals["prompt"] or 0,
        "completion_tokens": totals["completion"] or 0,
        "total_tokens": totals["total"] or 0,
    }


def _grouped(rows, key: str) -> dict[str, dict[str, int]]:
    grouped = (
        rows.order_by().values(key).annotate(calls=Count("pk"), tokens=Sum("total_tokens")).order_by(key)
    )
    return {
        str(row[key] or "unknown"): {"calls": row["calls"], "tokens": row["tokens"] or 0} for row in grouped
    }


@register
class UsageReport(Agent):
    name = "usage_report"
    description = (
        "Your assistant usage over the last `days` days (1 to 366, default 7): model calls and "
        "tokens in all, by day, by source and by model, conversations started, and your quota."
    )

    def validate(self, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        for key in input:
            if key != "days":
                raise AgentInputError("is not an input of usage_report (it takes only days).", field=key)
        days = input.get("days", 7)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise AgentInputError(f"must be a whole number of days from 1 to {MAX_DAYS}.", field="days")
        return {"days": days}

    def run(self, task) -> dict[str, Any]:
        days = task.input["days"]
        now = timezone.now()
        since = now - timedelta(days=days)
        rows = AIUsage.objects.filter(user=task.user, created_at__gte=since, created_at__lte=now)
        task.progress(0, f"Reading your usage from {since:%Y-%m-%d %H:%M} to {now:%Y-%m-%d %H:%M} UTC.")

        totals = _tokens(rows)
        task.progress(20, f"{totals['calls']} model calls used {totals['total_tokens']} tokens in all.")

        by_day = [
            {"date": row["day"].isoformat(), "calls": row["calls"], "tokens": row["tokens"] or 0}
            for row in rows.order_by()
            .annotate(day=TruncDate("created_at"))
            .values("day")
            .annotate(calls=Count("pk"), tokens=Sum("total_tokens"))
            .order_by("day")
        ]
        busiest = max(by_day, key=lambda d: d["tokens"], default=None)
        task.progress(
            40,
            f"Usage on {len(by_day)} of {days} days"
            + (f"; the busiest was {busiest['date']} ({busiest['tokens']} tokens)." if busiest else "."),
        )

        by_source = _grouped(rows, "source")
        by_model = _grouped(rows, "model")
        sources, models = ", ".join(by_source) or "none", ", ".join(by_model) or "none"
        task.progress(60, f"By source: {sources}; by model: {models}.")

        conversations = ChatSession.objects.filter(user=task.user, created_at__gte=since).count()
        task.progress(80, f"{conversations} conversations started.")

        limit = assistant_settings.USER_TOKEN_LIMIT
        period = {
            "period": assistant_settings.USAGE_PERIOD,
            "since": usage_period_start(now).isoformat(),
            "used": usage_total(user=task.user),
            "limit": limit,
        }
        if limit is None:
            task.log(f"No token limit; {period['used']} tokens used this {period['period']}.")
        else:
            task.log(f"{period['used']} of {limit} tokens used this {period['period']}.")
        return {
            "days": days,
            "since": since.isoformat(),
            "until": now.isoformat(),
            **totals,
            "by_day": by_day,
            "by_source": by_source,
            "by_model": by_model,
            "conversations": conversations,
            "quota": period,
        }


def _commands() -> dict[str, dict[str, Any]]:
    """The commands the operator allows, by name (``AGENTS["COMMANDS"]``)."""
    commands = agents_settings.COMMANDS
    if not isinstance(commands, dict):
        return {}
    return {name: spec for name, spec in commands.items() if isinstance(spec, dict) and spec.get("argv")}


@register
class RunCommand(Agent):
    """Runs one of the commands the operator allows, by name, with the arguments the
    entry lets through, and streams its output into the task's log line by line. Its
    entry in ``AGENTS["COMMANDS"]`` (or the ``AGENT_COMMANDS`` environment variable,
    JSON) is ``{"argv": [...], "args": false, "timeout": 60, "cwd": null}``: ``argv``
    runs without a shell; with ``"args": true`` the task's ``args`` (strings) are
    appended. A command outside the list is refused when the task is posted, before
    anything runs; one running longer than its time limit is killed and fails."""

    name = "run_command"
    description = 'Run one of the operator\'s allowed commands and stream its output: {"command", "args"?}.'

    def validate(self, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
        for key in input:
            if key not in ("command", "args"):
                raise AgentInputError("is not an input of run_command (command, args).", field=key)
        allowed = _commands()
        command = input.get("command")
        if not isinstance(command, str) or command not in allowed:
            names = ", ".join(sorted(allowed)) or "none are configured"
            raise AgentInputError(f"must be one of the allowed commands ({names}).", field="command")
        args = input.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) and len(a) <= 1000 for a in args):
            raise AgentInputError("must be a list of strings.", field="args")
        if args and not allowed[command].get("args"):
            raise AgentInputError(f"{command} takes no arguments.", field="args")
        if len(args) > 50:
            raise AgentInputError("at most 50 arguments.", field="args")
        return {"command": command, "args": args}

    def run(self, task) -> dict[str, Any]:
        spec = _commands()[task.input["command"]]
        argv = [str(part) for part in spec["argv"]] + list(task.input["args"])
        limit = float(spec.get("timeout") or agents_settings.COMMAND_TIMEOUT)
        task.log(f"$ {shlex.join(argv)}")
        process = subprocess.Popen(
            argv,
            cwd=spec.get("cwd") or None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: a timeout kills all of it
        )
        killed = threading.Event()
        timer = threading.Timer(limit, _kill, args=(process, killed))
        timer.start()
        lines = 0
        try:
            for line in process.stdout:
                lines += 1
                task.log(line.rstrip("\n"))
            code = process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:  # the log write failed: stop the command too
                _kill(process, killed)
                process.wait()
        if killed.is_set():
            raise EventHandlerError(f"{task.input['command']} ran longer than {limit:g} s and was stopped.")
        if code != 0:
            raise EventHandlerError(f"{task.input['command']} exited with code {code}.")
        return {"command": task.input["command"], "exit_code": code, "lines": lines}


def _kill(process: subprocess.Popen, killed: threading.Event) -> None:
    killed.set()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
