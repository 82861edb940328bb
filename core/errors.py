"""Domain errors whose messages are written for the person who typed the command."""

from __future__ import annotations


class ValidationFailed(Exception):
    """Field-keyed messages, so a modal can put each next to its input."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotFound(Exception):
    pass


class RunRejected(Exception):
    """A run cannot start; `kind` is kept on the run so lists and threads can say why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
