"""The model endpoint: any OpenAI-compatible server."""

from . import env as cfg

OPENAI_API_KEY = cfg.OPENAI_API_KEY
OPENAI_BASE_URL = cfg.OPENAI_BASE_URL
OPENAI_MODEL = cfg.OPENAI_MODEL or "gpt-4o-mini"
#: Seconds to open a connection to the model server, and to wait for each read.
OPENAI_CONNECT_TIMEOUT = 5.0
OPENAI_READ_TIMEOUT = 60.0
