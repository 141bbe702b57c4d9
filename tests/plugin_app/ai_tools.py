"""A site's tool over its own model, declared in a few lines and found at start-up."""

from assistant import tools

from .models import Note

find_notes = tools.register(
    tools.model_tool(
        Note,
        name="find_notes",
        description="The user's notes.",
        queryset=lambda user: Note.objects.filter(owner=user),
        fields=["id", "title", "archived"],
        filters={"id": ["exact", "in"], "title": ["icontains"], "archived": ["exact"]},
        ordering=["title"],
        limit=3,
    )
)
