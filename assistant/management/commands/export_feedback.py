import json

from django.core.management.base import BaseCommand, CommandError

from assistant import selectors
from assistant.models import Feedback


class Command(BaseCommand):
    help = (
        "Write the answers' feedback as JSON lines (question, answer, rating, comment, model), "
        "for evaluation: to standard output, or to --output."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="a file to write (default: standard output)")
        parser.add_argument("--rating", choices=Feedback.Rating.values, help="only this rating")
        parser.add_argument("--model", help="only answers of this model")

    def handle(self, *args, output, rating, model, **options):
        rows = selectors.feedback_for_export(rating=rating, model=model)
        try:
            out = open(output, "w", encoding="utf-8") if output else self.stdout  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Can't write {output}: {exc.strerror}.") from None
        count = 0
        try:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        finally:
            if output:
                out.close()
        if output:
            self.stderr.write(f"{count} feedback rows written to {output}.")
