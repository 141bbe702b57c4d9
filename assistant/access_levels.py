"""How far a user may use a session, as modes and the access checks speak of it."""

import enum


class Access(enum.IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


NOT_THE_OWNER_TEXT = "This conversation is read-only for you."
REVOKED_TEXT = "You no longer have access to this conversation."


class AccessRevoked(Exception):
    """The user lost access while their question was being answered."""
