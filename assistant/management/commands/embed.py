from django.core.management.base import BaseCommand, CommandError

from assistant import embeddings
from assistant.embeddings import pgvector
from assistant.llm import LLMError


class Command(BaseCommand):
    help = (
        "Embed the rows of the declared models (assistant.embeddings): every row, or with "
        "--stale only those without a vector or whose text changed since; removes the vectors "
        "of rows deleted without signals. --pgvector keeps the vectors in a pgvector column "
        "too, once the extension is installed on the PostgreSQL server."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--model", action="append", metavar="APP.MODEL", help="only this model (repeatable)"
        )
        parser.add_argument(
            "--stale", action="store_true", help="only rows whose vector is missing or out of date"
        )
        parser.add_argument("--pgvector", action="store_true", help="enable pgvector, then embed")

    def handle(self, *args, model, stale, **options):
        if options["pgvector"]:
            if not pgvector.enable():
                raise CommandError("The vector extension is not installed on this database server.")
            self.stdout.write("pgvector: enabled")
        labels = [label.lower() for label in model or embeddings.site.labels()]
        unknown = [label for label in labels if label not in embeddings.site]
        if unknown:
            known = ", ".join(embeddings.site.labels()) or "none"
            raise CommandError(f"Not an embedded model: {', '.join(unknown)} (embedded: {known}).")
        for label in labels:
            declaration = embeddings.site.get(label)
            try:
                counts = embeddings.embed_rows(declaration, stale_only=stale)
            except LLMError as exc:
                raise CommandError(f"{label}: the embedding model failed: {exc.message}") from exc
            removed = counts.removed + embeddings.remove_orphans(declaration)
            self.stdout.write(
                f"{label}: {counts.embedded} embedded, {counts.unchanged} unchanged, {removed} removed"
                f" ({counts.requests} requests, {counts.tokens} tokens)"
            )
