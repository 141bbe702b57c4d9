import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from assistant.dispatch import wait_for_submitted
from events.services import event_publish
from events.types import EventValidationError, event_from_dict


def _json_object(text: str, where: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{where} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CommandError(f"{where} must be a JSON object.")
    return value


class Command(BaseCommand):
    help = "Store an event and route it, as POST /api/events does. Prints the new event's id."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, help="a JSON file with the whole event")
        parser.add_argument("--type", help="the event type, e.g. user.message")
        parser.add_argument("--source", help="where the event comes from (default: cli)")
        parser.add_argument("--user", help="the userID (username) the event is for")
        parser.add_argument("--metadata", help="the metadata, a JSON object")
        parser.add_argument("--timestamp", help="ISO 8601 with a timezone (default: now)")
        parser.add_argument(
            "--wait",
            type=float,
            default=120.0,
            help="with no broker the event is routed in this process: seconds to wait for it (default 120)",
        )

    def handle(self, *args, file, type, source, user, metadata, timestamp, wait, **options):  # noqa: A002
        data: dict = {}
        if file is not None:
            try:
                data = _json_object(file.read_text(), str(file))
            except OSError as exc:
                raise CommandError(f"Can't read {file}: {exc}") from None
        given = {"type": type, "source": source, "userID": user, "timestamp": timestamp}
        data.update({key: value for key, value in given.items() if value is not None})
        if metadata is not None:
            data["metadata"] = _json_object(metadata, "--metadata")
        data.setdefault("source", "cli")
        data.setdefault("metadata", {})
        data.setdefault("timestamp", timezone.now().isoformat())
        try:
            event = event_from_dict(data)
        except EventValidationError as exc:
            raise CommandError(f"Invalid event: {exc}") from None
        owner = get_user_model().objects.filter(username=event.userID).first()
        if owner is None:
            raise CommandError(f"There is no user {event.userID!r}.")
        try:
            row = event_publish(event=event, user=owner)
        except EventValidationError as exc:
            raise CommandError(f"Invalid event: {exc}") from None
        self.stdout.write(str(row.pk))
        if settings.TASKS_IN_PROCESS and not wait_for_submitted(timeout=wait):
            self.stderr.write(f"Event {row.pk} was still being handled after {wait:g} s.")
