"""A mode added by an installed app in one file: only what differs is written."""

from assistant import llm, prompts
from modes.base import ModeBehaviour
from modes.registry import register

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
