"""The exception classes the generated `errors` module builds on."""

from __future__ import annotations

from typing import Any


class OlympusError(Exception):
    """An error reply of the contract (section 3): its status, code,
    message, details and the request's correlation id. Each code has its
    subclass in `olympus_client.errors`."""

    code: str = ""
    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        correlation_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details: dict[str, Any] = details or {}
        self.correlation_id = correlation_id

    def __str__(self) -> str:
        return f"{self.code} ({self.status}): {self.message} [correlation_id {self.correlation_id}]"


class RetryAfter:
    """For codes that say when to try again (`details.retry_after_secs`)."""

    details: dict[str, Any]

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before trying again, when the reply says."""
        value = self.details.get("retry_after_secs")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def outcome_unknown(self) -> bool:
        """Whether the worker could not learn if its change was made
        (`details.outcome: "unknown"`): retry only with an Idempotency-Key."""
        return self.details.get("outcome") == "unknown"


class TransportError(Exception):
    """No reply came: the request may or may not have been carried out."""

    def __init__(self, message: str, *, operation: str, correlation_id: str) -> None:
        super().__init__(message)
        self.operation = operation
        self.correlation_id = correlation_id


class Timeout(TransportError):
    """No reply within the time-out (the outcome is unknown)."""


class NoResponders(TransportError):
    """No worker answers the operation's subject (none running, or another
    subject prefix): nothing was done."""
