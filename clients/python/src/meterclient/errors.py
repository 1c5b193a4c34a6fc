"""Typed exceptions of the meterd client.

Every error a server states travels with a gRPC status code (docs/protocol.md, "Status codes")
and, when it is a rejection, a reason such as ``METER_NOT_FOUND``. Each status code maps to one
exception class below; all of them derive from :class:`MeterError`, which carries the code's
number and name, the reason and the server's message.
"""

from __future__ import annotations

import builtins
import enum


class StatusCode(enum.IntEnum):
    """The status codes of a RESPONSE header (gRPC's numbers)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class MeterError(Exception):
    """Base class of every error the client raises.

    Attributes:
        code: the status code (a :class:`StatusCode`, or a plain int for a code this client
            does not know), or None for errors that did not come from a status.
        reason: meterd's rejection code name (``"METER_NOT_FOUND"``), or ``""``.
        message: the server's (or the client's) explanation.
        retryable: whether sending the same request again later may succeed.
    """

    default_code: StatusCode | None = StatusCode.UNKNOWN
    retryable = False

    def __init__(self, message: str, *, code: int | None = None, reason: str = "") -> None:
        if code is None:
            code = self.default_code
        if code is not None:
            try:
                code = StatusCode(code)
            except ValueError:
                pass
        self.code = code
        self.reason = reason
        self.message = message
        super().__init__(message)

    @property
    def code_name(self) -> str:
        """The status code's name (``"NOT_FOUND"``), or ``""`` when there is no code."""
        if isinstance(self.code, StatusCode):
            return self.code.name
        return "" if self.code is None else f"CODE_{self.code}"

    @property
    def code_number(self) -> int | None:
        """The status code's number, or None when there is no code."""
        return None if self.code is None else int(self.code)

    def __str__(self) -> str:
        parts = []
        if self.code is not None:
            parts.append(f"{self.code_name} ({int(self.code)})")
        if self.reason:
            parts.append(self.reason)
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code_name or None}, reason={self.reason!r}, "
                f"message={self.message!r})")


class Cancelled(MeterError):
    default_code = StatusCode.CANCELLED


class Unknown(MeterError):
    default_code = StatusCode.UNKNOWN


class InvalidArgument(MeterError):
    default_code = StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(MeterError, builtins.TimeoutError):
    """The server, or the client's own timeout, gave up waiting. The request may have run."""

    default_code = StatusCode.DEADLINE_EXCEEDED
    retryable = True


class NotFound(MeterError):
    default_code = StatusCode.NOT_FOUND


class AlreadyExists(MeterError):
    default_code = StatusCode.ALREADY_EXISTS


class PermissionDenied(MeterError):
    default_code = StatusCode.PERMISSION_DENIED


class ResourceExhausted(MeterError):
    """A limit was hit (requests in flight, the engine's queue, the response size)."""

    default_code = StatusCode.RESOURCE_EXHAUSTED
    retryable = True


class FailedPrecondition(MeterError):
    default_code = StatusCode.FAILED_PRECONDITION


class Aborted(MeterError):
    default_code = StatusCode.ABORTED
    retryable = True


class OutOfRange(MeterError):
    default_code = StatusCode.OUT_OF_RANGE


class Unimplemented(MeterError):
    default_code = StatusCode.UNIMPLEMENTED


class Internal(MeterError):
    default_code = StatusCode.INTERNAL


class Unavailable(MeterError):
    """The server is shutting down or refuses writes; nothing in the request was acknowledged."""

    default_code = StatusCode.UNAVAILABLE
    retryable = True


class DataLoss(MeterError):
    default_code = StatusCode.DATA_LOSS


class Unauthenticated(MeterError):
    default_code = StatusCode.UNAUTHENTICATED


class ConnectionError(MeterError, builtins.ConnectionError):  # noqa: A001 - the brief's name
    """The connection could not be opened, was refused at the handshake, or broke.

    A request outstanding when the connection broke may or may not have run; retrying an ingest
    with the same event ids is always safe (already accepted ids come back DUPLICATE).
    """

    default_code = None
    retryable = True


class ProtocolError(MeterError):
    """The peer broke the framing rules; the connection cannot be trusted any more."""

    default_code = None


_BY_CODE: dict[int, type[MeterError]] = {
    cls.default_code: cls
    for cls in (Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
                PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange,
                Unimplemented, Internal, Unavailable, DataLoss, Unauthenticated)
}


def error_for_status(code: int, message: str, reason: str = "") -> MeterError:
    """Return the exception matching a non-zero status code."""
    cls = _BY_CODE.get(code, MeterError)
    return cls(message or f"request failed with status {code}", code=code, reason=reason)
