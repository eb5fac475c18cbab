"""One exception class per kind of user-facing error.

Each message says what went wrong and what the user can do about it, so the
CLI can print ``str(exc)`` and exit without a traceback.
"""


class NewswatchError(Exception):
    """Base class: anything the CLI reports as a clean error."""


class ConfigError(NewswatchError):
    """A setting is missing or has a bad value (the message names the variable)."""


class QueryError(NewswatchError):
    """A search query could not be parsed or uses an unknown field."""

    def __init__(self, message: str, position: int | None = None, query: str = "") -> None:
        self.position = position
        self.query = query
        where = f" (at position {position})" if position is not None else ""
        super().__init__(f"{message}{where}")


class BackendUnavailable(NewswatchError):
    """The search backend cannot be reached; work stays pending and is retried."""


class StateUnavailable(NewswatchError):
    """The state database cannot be opened (unreachable server, unwritable file)."""


class NotFound(NewswatchError):
    """An article, rule or feed that was asked for does not exist."""


class FetchRefused(NewswatchError):
    """A URL was refused before any request (SSRF guard, robots.txt, scheme)."""
