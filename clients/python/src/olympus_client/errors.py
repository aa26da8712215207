# Generated from contracts/spec/v1.json by contracts/src/python.rs: do not edit.
# `UPDATE_SPEC=1 cargo test -p olympus-contracts` rewrites it; a test fails when it is stale.
"""One exception class per error code of the contract, all `OlympusError`s.

`RateLimited` and `Unavailable` say when to try again (`retry_after`);
`Unavailable` with `outcome_unknown` did not learn whether its change was
made (retry only with an Idempotency-Key). A time-out or no worker at all
raise `Timeout` and `NoResponders`, which are `TransportError`s: no reply
came.
"""

from __future__ import annotations

from ._errors import NoResponders, OlympusError, RetryAfter, Timeout, TransportError

__all__ = [
    "OlympusError",
    "TransportError",
    "Timeout",
    "NoResponders",
    "BadRequest",
    "Unauthenticated",
    "InvalidCredentials",
    "InvalidToken",
    "Forbidden",
    "NotFound",
    "Conflict",
    "InvalidState",
    "InsufficientStock",
    "IdempotencyKeyInUse",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "IdempotencyKeyReused",
    "ValidationFailed",
    "RateLimited",
    "Internal",
    "Unavailable",
    "BY_CODE",
]


class BadRequest(OlympusError):
    """`bad_request` (400)."""

    code = "bad_request"
    status = 400


class Unauthenticated(OlympusError):
    """`unauthenticated` (401)."""

    code = "unauthenticated"
    status = 401


class InvalidCredentials(OlympusError):
    """`invalid_credentials` (401)."""

    code = "invalid_credentials"
    status = 401


class InvalidToken(OlympusError):
    """`invalid_token` (401)."""

    code = "invalid_token"
    status = 401


class Forbidden(OlympusError):
    """`forbidden` (403)."""

    code = "forbidden"
    status = 403


class NotFound(OlympusError):
    """`not_found` (404)."""

    code = "not_found"
    status = 404


class Conflict(OlympusError):
    """`conflict` (409)."""

    code = "conflict"
    status = 409


class InvalidState(OlympusError):
    """`invalid_state` (409)."""

    code = "invalid_state"
    status = 409


class InsufficientStock(OlympusError):
    """`insufficient_stock` (409)."""

    code = "insufficient_stock"
    status = 409


class IdempotencyKeyInUse(OlympusError):
    """`idempotency_key_in_use` (409)."""

    code = "idempotency_key_in_use"
    status = 409


class PayloadTooLarge(OlympusError):
    """`payload_too_large` (413)."""

    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(OlympusError):
    """`unsupported_media_type` (415)."""

    code = "unsupported_media_type"
    status = 415


class IdempotencyKeyReused(OlympusError):
    """`idempotency_key_reused` (422)."""

    code = "idempotency_key_reused"
    status = 422


class ValidationFailed(OlympusError):
    """`validation_failed` (422)."""

    code = "validation_failed"
    status = 422


class RateLimited(RetryAfter, OlympusError):
    """`rate_limited` (429)."""

    code = "rate_limited"
    status = 429


class Internal(OlympusError):
    """`internal` (500)."""

    code = "internal"
    status = 500


class Unavailable(RetryAfter, OlympusError):
    """`unavailable` (503)."""

    code = "unavailable"
    status = 503


# The class of each code.
BY_CODE: dict[str, type[OlympusError]] = {
    "bad_request": BadRequest,
    "unauthenticated": Unauthenticated,
    "invalid_credentials": InvalidCredentials,
    "invalid_token": InvalidToken,
    "forbidden": Forbidden,
    "not_found": NotFound,
    "conflict": Conflict,
    "invalid_state": InvalidState,
    "insufficient_stock": InsufficientStock,
    "idempotency_key_in_use": IdempotencyKeyInUse,
    "payload_too_large": PayloadTooLarge,
    "unsupported_media_type": UnsupportedMediaType,
    "idempotency_key_reused": IdempotencyKeyReused,
    "validation_failed": ValidationFailed,
    "rate_limited": RateLimited,
    "internal": Internal,
    "unavailable": Unavailable,
}
