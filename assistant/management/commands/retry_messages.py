from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from assistant import services
from assistant.durations import parse_duration
from assistant.models import ChatMessage, ChatSession
from assistant.processing import message_sweep


class Command(BaseCommand):
    help = (
        "Requeue AI messages: with --stuck, those left in processing by a dead worker and "
        "pending ones never picked up (failing those whose attempts ran out); with --session "
        "or --failed-within, failed messages."
    )

    def add_arguments(self, parser):
        parser.add_argument("--stuck", action="store_true", help="sweep stuck and forgotten messages")
        parser.add_argument(
            "--stuck-after", type=parse_duration, help="silence that makes a processing message stuck"
        )
        parser.add_argument(
            "--pending-after", type=parse_duration, help="wait that makes a pending message forgotten"
        )
        parser.add_argument("--session", help="retry the failed messages of this session id")
        parser.add_argument(
            "--failed-within", type=parse_duration, help="retry messages that failed within this time"
        )
        parser.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")

    def handle(self, *args, stuck, stuck_after, pending_after, session, failed_within, dry_run, **options):
        if not (stuck or session or failed_within):
            raise CommandError("Say what to retry: --stuck, --session ID or --failed-within DURATION.")
        verb = "would be" if dry_run else "was"
        if stuck:
            actions = message_sweep(
                stuck_after=stuck_after.total_seconds() if stuck_after else None,
                pending_after=pending_after.total_seconds() if pending_after else None,
                dry_run=dry_run,
            )
            for action in actions:
                where = f"{action.found}, session {action.session_id}"
                self.stdout.write(f"{action.message_id} ({where}) {verb} {action.action}")
            self.stdout.write(f"{len(actions)} stuck or forgotten message(s).")
        if session or failed_within:
            failed = ChatMessage.objects.filter(role="user", status=ChatMessage.Status.ERROR)
            if session:
                if not ChatSession.objects.filter(pk=session).exists():
                    raise CommandError(f"No session {session}.")
                failed = failed.filter(session_id=session)
            if failed_within:
                failed = failed.filter(updated_at__gte=timezone.now() - failed_within)
            count = 0
            for message in failed.order_by("created_at"):
                if not dry_run:
                    services.message_retry(message=message)
                count += 1
                self.stdout.write(f"{message.pk} (session {message.session_id}) {verb} retried")
            self.stdout.write(f"{count} failed message(s) {verb} retried.")
