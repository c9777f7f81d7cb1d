"""Domain errors: each carries the contract's error code, HTTP status, message and details."""

from __future__ import annotations

from typing import Any


class BReactError(Exception):
    """An error a client can act on; the API's exception handler renders it as the envelope."""

    code = "INTERNAL_ERROR"
    status = 500
    default_message = "Internal error."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class MissingApiKey(BReactError):
    code = "MISSING_API_KEY"
    status = 401
    default_message = "No API key was sent. Put your key in the x-api-key header."


class Unauthorized(BReactError):
    code = "UNAUTHORIZED"
    status = 401
    default_message = "The API key is invalid, revoked or expired."


class Forbidden(BReactError):
    code = "FORBIDDEN"
    status = 403
    default_message = "This API key is not allowed to do that."


class BadRequest(BReactError):
    code = "BAD_REQUEST"
    status = 400
    default_message = "The request is not valid."


class PayloadTooLarge(BReactError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    default_message = "The request body is too large."


class UnsupportedMediaType(BReactError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    default_message = "The body must be JSON sent as Content-Type: application/json."


class NotFound(BReactError):
    code = "NOT_FOUND"
    status = 404
    default_message = "Not found."


class ServiceNotFound(BReactError):
    code = "SERVICE_NOT_FOUND"
    status = 404
    default_message = "No such service or endpoint."


class InsufficientCredits(BReactError):
    code = "INSUFFICIENT_CREDITS"
    status = 402

    def __init__(self, *, required: int, balance: int, message: str | None = None) -> None:
        super().__init__(
            message
            or f"This call costs {required} credits and the balance is {balance}. "
            "Top up to continue.",
            details={"required": required, "balance": balance},
        )
        self.required = required
        self.balance = balance


class RateLimitExceeded(BReactError):
    code = "RATE_LIMIT_EXCEEDED"
    status = 429


class IdempotencyInFlight(BReactError):
    code = "IDEMPOTENCY_CONFLICT"
    status = 409
    default_message = (
        "A request with this Idempotency-Key is still being processed; retry in a moment."
    )


class IdempotencyMismatch(BReactError):
    code = "IDEMPOTENCY_CONFLICT"
    status = 422
    default_message = "This Idempotency-Key was already used with a different request body."


class ServiceUnavailable(BReactError):
    code = "SERVICE_UNAVAILABLE"
    status = 503
    default_message = "The service is temporarily unavailable; nothing was charged. Retry shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
