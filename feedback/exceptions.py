"""Domain errors raised by services and turned into responses by views, the API and the CLI."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a service raises on purpose."""


class ValidationFailed(DomainError):
    """Input broke a business rule.

    ``errors`` maps a field name ("" for the whole form) to its messages.
    """

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = errors

    @classmethod
    def on(cls, field: str, message: str) -> ValidationFailed:
        """One message on one field."""
        return cls({field: [message]})


class PermissionDenied(DomainError):
    """The acting user may not do this."""


class Conflict(DomainError):
    """The object changed or is in a state that does not allow this (answered with 409)."""


class StaleVersion(Conflict):
    """Someone saved a newer version since this form was loaded."""
