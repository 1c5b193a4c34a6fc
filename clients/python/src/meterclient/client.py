"""The blocking client: :class:`Client`."""

from __future__ import annotations

import ssl as _ssl

import time
from typing import Iterable, Iterator, Mapping, Sequence

from . import calls, errors, models
from .address import parse_address
from .connection import Connection
from .handshake import resolve_api_key
from .proto import meterd_pb2 as pb
from .wire import DEFAULT_MAX_FRAME_BYTES, Method


class Client:
    """A blocking meterd client over one connection (Unix socket or TCP).

    Open it with :meth:`connect`, preferably as a context manager::

        with Client.connect("unix:/run/meterd.sock", tenant="acme") as client:
            client.ingest_batch(events)

    Every call waits at most ``timeout`` seconds. When the connection broke or the server said
    GOAWAY (a restart, say), the next call opens a new connection first. A call that fails with
    a retryable error (:attr:`MeterError.retryable`) can be repeated as it is: ingesting the
    same event ids again never counts them twice. The client is safe to share among threads;
    their requests are pipelined on the one connection.
    """

    def __init__(self, address: str, *, tenant: str = "", timeout: float = 10.0,
                 api_key: str | None = None, credential: str = "", ssl: "_ssl.SSLContext | None" = None,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.address = parse_address(address)
        self.tenant = tenant
        self.timeout = timeout
        self._credential = resolve_api_key(api_key, credential)
        self._ssl = ssl
        self._max_frame_bytes = max_frame_bytes
        self._connection: Connection | None = None
        self._closed = False

    @classmethod
    def connect(cls, address: str, tenant: str = "", timeout: float = 10.0,
                **options) -> "Client":
        """Open a connection now (raising ConnectionError when that fails) and return the client."""
        client = cls(address, tenant=tenant, timeout=timeout, **options)
        client.reconnect()
        return client

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exception_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection. A closed client refuses further calls."""
        self._closed = True
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def reconnect(self) -> None:
        """Drop the current connection, if any, and open a new one."""
        if self._closed:
            raise errors.ConnectionError("the client is closed")
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._connection = Connection.open(self.address, tenant=self.tenant, timeout=self.timeout,
                                           credential=self._credential, ssl=self._ssl,
                                           max_frame_bytes=self._max_frame_bytes)

    @property
    def connection_info(self) -> models.ConnectionInfo:
        """The limits the server stated for the current connection."""
        return self._current_connection().info

    def _current_connection(self) -> Connection:
        if self._closed:
            raise errors.ConnectionError("the client is closed")
        if self._connection is None or not self._connection.check_idle():
            self.reconnect()
        return self._connection

    def _invoke(self, call: calls.Call, timeout: float | None = None):
        connection = self._current_connection()
        payload = connection.call(call.method, call.payload(),
                                  self.timeout if timeout is None else timeout)
        return call.decode(payload)

    # ------------------------------------------------------------------------------------------
    # Admin
    # ------------------------------------------------------------------------------------------

    def create_meter(self, event_name: str, display_name: str, aggregation, *,
                     field: str | None = None, reset=models.ResetMode.CUMULATIVE,
                     billing_period=None, filters: Mapping[str, Sequence[str]] | None = None,
                     multiplier=None, anchor=None, group_by: Sequence[str] = ()) -> models.Meter:
        """Create a meter. Enums may be given as members or names (``"SUM"``, ``"monthly"``).

        Raises AlreadyExists when an active meter has the event name, InvalidArgument for an
        invalid definition.
        """
        return self._invoke(calls.create_meter(
            event_name, display_name, aggregation, field=field, reset=reset,
            billing_period=billing_period, filters=filters, multiplier=multiplier, anchor=anchor,
            group_by=group_by))

    def get_meter(self, reference: str) -> models.Meter:
        """The meter with this id (``mtr_...``) or event name; NotFound when there is none."""
        return self._invoke(calls.get_meter(reference))

    def list_meters(self, include_archived: bool = False, page_size: int = 0) -> list[models.Meter]:
        """Every meter of the tenant in creation order (all pages)."""
        meters: list[models.Meter] = []
        token = ""
        while True:
            page, token = self._invoke(calls.list_meters_page(include_archived, page_size, token))
            meters.extend(page)
            if not token:
                return meters

    def update_meter(self, reference: str, display_name: str) -> models.Meter:
        """Change a meter's display name, the only mutable field."""
        return self._invoke(calls.update_meter(reference, display_name))

    def archive_meter(self, reference: str) -> models.Meter:
        """Archive a meter: it stops counting, keeps its usage and frees its event name."""
        return self._invoke(calls.archive_meter(reference))

    # ------------------------------------------------------------------------------------------
    # Ingest
    # ------------------------------------------------------------------------------------------

    def ingest(self, event: models.Event) -> models.EventResult:
        """Ingest one event. A rejected event is a REJECTED result, not an exception."""
        return self._invoke(calls.ingest(event))

    def ingest_batch(self, events: Iterable[models.Event], *,
                     entitlement_effects: bool = False) -> models.BatchResult:
        """Ingest events; returns one EventResult per event, in order (a list with counts).

        With ``entitlement_effects=True`` each accepted event on a meter with an entitlement for
        its customer carries ``entitlement`` (an EntitlementEffect: has_access, usage, limit,
        remaining, crossed), decided when the event was applied.
        """
        return self._invoke(calls.ingest_batch(events, entitlement_effects))

    # ------------------------------------------------------------------------------------------
    # Query
    # ------------------------------------------------------------------------------------------

    def query_usage(self, reference: str, start, end, *, window=None,
                    customer: str | None = None, group_by_customer: bool = False,
                    group_by: Sequence[str] = (),
                    group_filters: Mapping[str, Sequence[str]] | None = None) -> models.UsageRows:
        """Usage over ``[start, end)`` (aware datetimes or Unix ms, whole minutes).

        Returns a list of UsageRow whose ``value`` is a Decimal (None when absent); the list's
        ``meter`` attribute is the meter read.
        """
        return self._invoke(calls.query_usage(
            reference, start, end, window=window, customer=customer,
            group_by_customer=group_by_customer, group_by=group_by, group_filters=group_filters))

    def current_usage(self, reference: str, customer: str | None = None,
                      at=None) -> models.CurrentUsage:
        """Usage in the billing period (or running total) containing ``at`` (default: now)."""
        return self._invoke(calls.current_usage(reference, customer, at))

    # ------------------------------------------------------------------------------------------
    # Entitlements and notifications (docs/entitlements.md)
    # ------------------------------------------------------------------------------------------

    def set_entitlement(self, reference: str, limit, customer: str | None = None, soft: bool = False):
        """Set a meter's limit for ``customer``, or the tenant-wide default (admin)."""
        return self._invoke(calls.set_entitlement(reference, limit, customer, soft))

    def add_grant(self, reference: str, customer: str, amount, effective_from=None, expires_at=None):
        """Raise a customer's limit by ``amount`` from ``effective_from`` (default now) until ``expires_at`` (admin)."""
        return self._invoke(calls.add_grant(reference, customer, amount, effective_from, expires_at))

    def check_entitlement(self, reference: str, customer: str, at=None) -> models.EntitlementCheck:
        """Whether ``customer`` may use the meter at ``at`` (default now), answered from the server's memory."""
        return self._invoke(calls.check_entitlement(reference, customer, at))

    def add_threshold_rule(self, reference: str, *, value=None, percent=None, customer: str | None = None):
        """Notify once per customer and period when usage reaches ``value`` or ``percent`` of the entitlement (admin)."""
        return self._invoke(calls.add_threshold_rule(reference, value=value, percent=percent, customer=customer))

    def list_notifications(self, after: int = 0, limit: int = 0, wait_ms: int = 0) -> models.NotificationPage:
        """Notifications numbered above ``after``, waiting up to ``wait_ms`` (at most 30000) for one."""
        return self._invoke(calls.list_notifications(after, limit, wait_ms),
                            timeout=None if wait_ms == 0 else self.timeout + wait_ms / 1000)

    def watch_notifications(self, after: int = 0, *, meter: str | None = None,
                            wait: float | None = None) -> Iterator[models.Notification]:
        """Yield the notifications numbered above ``after``, oldest first: those already raised,
        then each new one as the server raises it (WatchNotifications, a server stream).

        Runs until the caller stops iterating (``break``, ``close()`` on the generator, or the
        generator being dropped: the client then sends CANCEL and waits for the stream's end),
        or the server ends the stream (it is shutting down: the iteration simply stops). To
        resume, call again with the number of the last notification received: nothing is
        missed and nothing comes twice, across reconnects and server restarts.

        ``meter`` keeps only that meter's notifications (id or event name). ``wait`` bounds the
        time to wait for the next notification (DeadlineExceeded, the stream then cancelled);
        None waits as long as it takes.
        """
        request = pb.WatchNotificationsRequest(after_number=after)
        if meter is not None:
            request.meter.CopyFrom(models.meter_reference(meter))
        connection = self._current_connection()
        stream_id = connection.open_stream(Method.WATCH_NOTIFICATIONS, request.SerializeToString(), self.timeout)
        ended = False
        try:
            while True:
                deadline = time.monotonic() + (wait if wait is not None else 3600.0)
                try:
                    payload = connection.next_message(stream_id, deadline)
                except errors.DeadlineExceeded:
                    if wait is not None:
                        raise
                    continue
                if payload is None:
                    ended = True
                    return
                message = pb.Notification()
                message.ParseFromString(payload)
                yield models.Notification.from_message(message)
        except errors.MeterError:
            ended = not connection.usable
            raise
        finally:
            if not ended:
                connection.cancel_stream(stream_id, timeout=self.timeout)

    # ------------------------------------------------------------------------------------------
    # Health
    # ------------------------------------------------------------------------------------------

    def health(self) -> models.Health:
        """SERVING or NOT_SERVING, with the server's message."""
        return self._invoke(calls.health())

    def server_info(self) -> models.ServerInfo:
        """Version, durability mode and log positions."""
        return self._invoke(calls.server_info())

    def ping(self, timeout: float | None = None) -> float:
        """Round trip of a PING in seconds."""
        return self._current_connection().ping(timeout=self.timeout if timeout is None else timeout)


def retry(operation, *, attempts: int = 5, initial_delay: float = 0.1, max_delay: float = 2.0):
    """Run ``operation()`` again after a retryable MeterError, with exponential backoff.

    Safe for ingest (event ids make retries idempotent) and for reads.
    """
    delay = initial_delay
    for attempt in range(attempts):
        try:
            return operation()
        except errors.MeterError as error:
            if not error.retryable or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, max_delay)
