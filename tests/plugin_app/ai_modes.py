"""Modes added by an installed app in one file: only what differs is written. The
second talks about the app's own model, decides who may use its sessions, and gives
the model a tool that reads that model."""

from django.db.models import F, Q
from rest_framework import serializers

from assistant import llm, prompts, selectors, services
from assistant.access_levels import Access
from assistant.exceptions import InvalidInput
from assistant.tools import Tool, ToolError
from modes.base import ModeBehaviour, about
from modes.registry import register

from .models import Note

SYSTEM = "You write short, friendly release notes from the changes the user lists."


@register
class ReleaseNotesMode(ModeBehaviour):
    id = "release_notes"
    name = "Release notes"
    description = "Turn a list of changes into release notes."
    features = ["writing"]

    def input_placeholder(self) -> str:
        return "Paste the changes of this release..."

    def query(self, *, session, message, on_delta=None, should_stop=None):
        messages = [{"role": "system", "content": SYSTEM}, *prompts.plain_messages(session, message)]
        return llm.stream_chat(messages, on_delta=on_delta, should_stop=should_stop)


# --- A mode about the site's own model -------------------------------------------------

NOTES_SYSTEM = "You answer questions about the user's note; read it with the read_note tool."


def _note_id() -> serializers.IntegerField:
    return serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)


def read_note(context, arguments):
    note = Note.objects.filter(pk=context.session.subject_id or None).first()
    if note is None:
        raise ToolError("The note is gone.")
    return {"title": note.title, "body": note.body}


READ_NOTE = Tool(
    name="read_note",
    description="Read the note this conversation is about.",
    parameters={"type": "object", "properties": {}, "additionalProperties": False},
    function=read_note,
)


@register
class NotesMode(ModeBehaviour):
    """Sessions about a ``Note``: only the note's owner may use them."""

    id = "notes"
    name = "Notes"
    description = "Ask about one of your notes."

    def form_fields(self):
        return {"note": _note_id()}

    def validate_form(self, params):
        note = Note.objects.filter(pk=params.get("note") or None).first()
        if note is None:
            raise InvalidInput({"note": ["Give the id of one of your notes."]})
        return {"subject": note}

    def session_access(self, *, user, session):
        owner = Note.objects.filter(pk=session.subject_id or None).values_list("owner_id", flat=True).first()
        return Access.WRITE if owner == user.pk and session.user_id == user.pk else Access.NONE

    def visible_sessions(self, *, user):
        return Q(user=user) & about(Note.objects.filter(owner=user))

    def session_fields(self):
        return {"note": serializers.IntegerField(allow_null=True)}

    def session_values(self, session):
        return {"note": int(session.subject_id) if session.subject_id else None}

    def list_filters(self):
        return {"note": _note_id()}

    def filter_sessions(self, params):
        return Q(subject_id=str(params["note"])) if params.get("note") is not None else Q()

    def on_session_start(self, session):
        Note.objects.filter(pk=session.subject_id).update(
            conversations_started=F("conversations_started") + 1
        )

    def list_sessions(self, *, user, visible, params, **page):
        """Conversations about archived notes are not listed."""
        archived = about(Note.objects.filter(archived=True))
        return super().list_sessions(user=user, visible=visible.exclude(archived), params=params, **page)

    def more_sessions(self, *, user, params, current_count, total):
        """The notes list shows one page only."""
        return False

    def get_session(self, *, session_id):
        session = selectors.session_get(session_id=session_id)
        session.title = f"{session.title} (about {Note.objects.get(pk=session.subject_id).title})"
        return session

    def tools(self, *, session, message):
        return [READ_NOTE]

    def query(self, *, session, message, on_delta=None, should_stop=None, on_tool=None):
        return services.ai_query(
            session=session,
            message=message,
            messages=[{"role": "system", "content": NOTES_SYSTEM}, *prompts.plain_messages(session, message)],
            tools=self.tools(session=session, message=message),
            on_delta=on_delta,
            should_stop=should_stop,
            on_tool=on_tool,
        )
