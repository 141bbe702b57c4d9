from pathlib import Path

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from assistant.registry import NAME as MODE_ID

MODE_TEMPLATE = '''"""Assistant modes of this app, discovered at start-up."""

from assistant import llm, prompts
from modes.base import ModeBehaviour
from modes.registry import register


@register
class {class_name}(ModeBehaviour):
    id = "{mode_id}"
    name = "{title}"
    description = "What this mode helps with."
    icon = "chat"
    category = "general"
    features = []

    def input_placeholder(self) -> str:
        return "Ask me anything about {title_lower}..."

    def query(self, *, session, message, on_delta=None, should_stop=None):
        system = {{"role": "system", "content": "You are the {title_lower} assistant."}}
        messages = [system, *prompts.plain_messages(session, message)]
        return llm.stream_chat(messages, on_delta=on_delta, should_stop=should_stop)
'''

TEST_TEMPLATE = """import pytest

from modes.registry import site

pytestmark = pytest.mark.django_db


def test_the_{mode_id}_mode_is_registered():
    mode = site.get("{mode_id}")
    assert mode.metadata()["name"] == "{title}"
    assert mode.input_placeholder().startswith("Ask me anything")
"""


class Command(BaseCommand):
    help = "Scaffold an assistant mode: an ai_modes.py with a mode class, and a test, in an installed app."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the mode's id, for example release_notes")
        parser.add_argument("--app", required=True, help="the label of the installed app to put it in")

    def handle(self, *args, name, app, **options):
        if not MODE_ID.match(name):
            raise CommandError("Name the mode with lower-case letters, digits and underscores.")
        try:
            config = apps.get_app_config(app)
        except LookupError:
            raise CommandError(f"No installed app {app!r}.") from None
        folder = Path(config.path)
        modes_file, test_file = folder / "ai_modes.py", folder / f"test_{name}_mode.py"
        for path in (modes_file, test_file):
            if path.exists():
                raise CommandError(f"{path} exists already; add the mode to it by hand.")
        words = name.split("_")
        values = {
            "mode_id": name,
            "class_name": "".join(w.capitalize() for w in words) + "Mode",
            "title": " ".join(words).capitalize(),
            "title_lower": " ".join(words),
        }
        modes_file.write_text(MODE_TEMPLATE.format(**values))
        test_file.write_text(TEST_TEMPLATE.format(**values))
        self.stdout.write(f"Created {modes_file} and {test_file}; restart the server to load the mode.")
