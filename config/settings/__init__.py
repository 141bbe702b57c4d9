"""This repository's own site: the assistant's settings (``assistant.defaults``, read
from the environment) and the site's own (``base``)."""

import os
from pathlib import Path

# The assistant's .env, DATA_DIR and SQLite database are this repository's, wherever
# the process runs.
os.environ.setdefault("ASSISTANT_BASE_DIR", str(Path(__file__).resolve().parent.parent.parent))

from assistant.defaults import *  # noqa: E402, F403

from .base import *  # noqa: E402, F403
