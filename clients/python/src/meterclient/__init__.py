"""Python client of meterd, the usage-metering server.

Blocking: :class:`Client`. asyncio: :class:`AsyncClient`. Both speak meterd's framed protobuf
protocol (docs/protocol.md) over a Unix-domain socket or TCP.
"""

from .async_client import AsyncClient
from .async_client import retry as async_retry
from .client import Client, retry
from .errors import ConnectionError  # noqa: F401 - meterclient.ConnectionError, see below
from .errors import (Aborted, AlreadyExists, Cancelled, DataLoss,
                     DeadlineExceeded, FailedPrecondition, Internal, InvalidArgument, MeterError,
                     NotFound, OutOfRange, PermissionDenied, ProtocolError, ResourceExhausted,
                     StatusCode, Unauthenticated, Unavailable, Unimplemented, Unknown)
from .models import (Aggregation, Backfill, BatchResult, BillingPeriod, ConnectionInfo,
                     CurrentUsage, EntitlementEffect, Event, EventOutcome, EventResult, EventStatus,
                     Health, Meter,
                     MeterCounters, MeterStatus, ResetMode, ServerInfo, ServingStatus, UsageRow,
                     UsageRows, WindowSize)

__version__ = "0.1.0"

# ConnectionError is importable as meterclient.ConnectionError but left out of __all__ so that
# a star import does not shadow the builtin (it derives from the builtin anyway).
__all__ = [
    "Aborted", "Aggregation", "AlreadyExists", "AsyncClient", "Backfill", "BatchResult",
    "BillingPeriod", "Cancelled", "Client", "ConnectionInfo", "CurrentUsage", "DataLoss",
    "DeadlineExceeded", "EntitlementEffect", "Event", "EventOutcome", "EventResult", "EventStatus",
    "FailedPrecondition", "Health", "Internal", "InvalidArgument", "Meter", "MeterCounters",
    "MeterError", "MeterStatus", "NotFound", "OutOfRange", "PermissionDenied", "ProtocolError",
    "ResetMode", "ResourceExhausted", "ServerInfo", "ServingStatus", "StatusCode",
    "Unauthenticated", "Unavailable", "Unimplemented", "Unknown", "UsageRow", "UsageRows",
    "WindowSize", "async_retry", "retry",
]
