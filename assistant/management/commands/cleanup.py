from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.services import logins_delete_expired
from assistant import services
from assistant.conf import assistant_settings
from assistant.durations import parse_duration
from assistant.idempotency import idempotency_keys_delete_expired
from events.services import events_delete_finished, schedules_delete_finished


class Command(BaseCommand):
    help = (
        "Delete chat sessions (with their messages), usage rows and finished events older than the "
        "retention period, and one-off schedules that fired (or were cancelled) before it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=parse_duration,
            help="age past which rows go (default: ASSISTANT['RETENTION_DAYS'] days)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")

    def handle(self, *args, older_than, dry_run, **options):
        cutoff = timezone.now() - (older_than or timezone.timedelta(days=assistant_settings.RETENTION_DAYS))
        targets = {
            "chat sessions": services.sessions_delete_older,
            "usage rows": services.usage_delete_older,
            "events": events_delete_finished,
        }
        verb = "would delete" if dry_run else "deleted"
        with transaction.atomic():
            for name, delete in targets.items():
                count = delete(before=cutoff, dry_run=dry_run)
                self.stdout.write(f"{verb} {count} {name} last changed before {cutoff:%Y-%m-%d %H:%M} UTC")
            count = schedules_delete_finished(before=cutoff, dry_run=dry_run)
            self.stdout.write(f"{verb} {count} finished schedules ended before {cutoff:%Y-%m-%d %H:%M} UTC")
            count = idempotency_keys_delete_expired(dry_run=dry_run)
            self.stdout.write(f"{verb} {count} expired idempotency keys")
            count = logins_delete_expired(dry_run=dry_run)
            self.stdout.write(f"{verb} {count} expired logins")
