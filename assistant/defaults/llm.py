"""The model endpoint (any OpenAI-compatible server) and the assistant's own settings."""

from . import env as cfg

#: ``"demo"`` is the built-in offline demo model; None is OpenAI's own API.
OPENAI_BASE_URL = cfg.OPENAI_BASE_URL
OPENAI_API_KEY = cfg.OPENAI_API_KEY
OPENAI_MODEL = cfg.OPENAI_MODEL or ("demo" if cfg.OPENAI_BASE_URL == cfg.DEMO_MODEL else "gpt-4o-mini")
#: Seconds to open a connection to the model server, and to wait for each read.
OPENAI_CONNECT_TIMEOUT = 5.0
OPENAI_READ_TIMEOUT = 60.0

# See assistant/conf.py for every key and its default.
ASSISTANT = {
    "MAX_RETRIES": cfg.AI_MAX_RETRIES,
    "MAX_ATTEMPTS": cfg.AI_MAX_ATTEMPTS,
    "BACKOFF": cfg.AI_RETRY_BACKOFF,
    "STUCK_AFTER": cfg.AI_STUCK_AFTER,
    "HEARTBEAT_INTERVAL": cfg.AI_HEARTBEAT_INTERVAL,
    "PENDING_AFTER": cfg.AI_PENDING_AFTER,
    "SWEEP_INTERVAL": cfg.AI_SWEEP_INTERVAL,
    "USER_TOKEN_LIMIT": cfg.AI_USER_TOKEN_LIMIT,
    "SCOPE_TOKEN_LIMIT": cfg.AI_PROJECT_TOKEN_LIMIT,
    "USAGE_PERIOD": cfg.AI_USAGE_PERIOD,
    "MAX_IN_FLIGHT_PER_USER": cfg.AI_MAX_IN_FLIGHT_PER_USER,
    "MAX_IN_FLIGHT_PER_SESSION": cfg.AI_MAX_IN_FLIGHT_PER_SESSION,
    "REQUIRE_DISCLAIMER": cfg.AI_REQUIRE_DISCLAIMER,
    "MODEL_TITLES": cfg.AI_MODEL_TITLES,
    "MODELS": cfg.AI_MODELS,
    "EMBEDDING_MODEL": cfg.OPENAI_EMBEDDING_MODEL,
    "EMBEDDING_DIMENSIONS": cfg.AI_EMBEDDING_DIMENSIONS,
    "EMBED_MESSAGES": cfg.AI_EMBED_MESSAGES,
}
