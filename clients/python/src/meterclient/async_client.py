"""The asyncio client: :class:`AsyncClient`, the same methods as :class:`Client` as coroutines."""

from __future__ import annotations

import ssl as _ssl

import asyncio
from typing import AsyncIterator, Iterable, Mapping, Sequence

from . import calls, errors, models
from .address import parse_address
from .async_connection import AsyncConnection
from .handshake import resolve_api_key
from .proto import meterd_pb2 as pb
from .wire import DEFAULT_MAX_FRAME_BYTES, Method


class AsyncClient:
    """An asyncio meterd client over one connection.

    Any number of tasks may call it at once: their requests share the connection and each
    answer is matched to its caller by stream id, in whatever order the server answers::

        async with await AsyncClient.connect("127.0.0.1:7878") as client:
            results = await asyncio.gather(*(client.get_meter(name) for name in names))

    As with :class:`Client`, a broken connection (or a GOAWAY) is replaced on the next call.
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
        self._connection: AsyncConnection | None = None
        self._connecting = asyncio.Lock()
        self._closed = False

    @classmethod
    async def connect(cls, address: str, tenant: str = "", timeout: float = 10.0,
                      **options) -> "AsyncClient":
        """Open a connection now (raising ConnectionError when that fails) and return the client."""
        client = cls(address, tenant=tenant, timeout=timeout, **options)
        await client.reconnect()
        return client

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exception_info) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection. A closed client refuses further calls."""
        self._closed = True
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def reconnect(self) -> None:
        """Drop the current connection, if any, and open a new one."""
        if self._closed:
            raise errors.ConnectionError("the client is closed")
        old, self._connection = self._connection, None
        if old is not None:
            await old.close()
        self._connection = await AsyncConnection.open(
            self.address, tenant=self.tenant, timeout=self.timeout, credential=self._credential, ssl=self._ssl,
            max_frame_bytes=self._max_frame_bytes)

    @property
    def connection_info(self) -> models.ConnectionInfo | None:
        """The limits the server stated for the current connection (None before connecting)."""
        return None if self._connection is None else self._connection.info

    async def _current_connection(self) -> AsyncConnection:
        if self._closed:
            raise errors.ConnectionError("the client is closed")
        async with self._connecting:
            if self._connection is None or not self._connection.usable:
                await self.reconnect()
            return self._connection

    async def _invoke(self, call: calls.Call, timeout: float | None = None):
        connection = await self._current_connection()
        payload = await connection.call(call.method, call.payload(),
                                        self.timeout if timeout is None else timeout)
        return call.decode(payload)

    async def create_meter(self, event_name: str, display_name: str, aggregation, *,
                           field: str | None = None, reset=models.ResetMode.CUMULATIVE,
                           billing_period=None,
                           filters: Mapping[str, Sequence[str]] | None = None,
                           multiplier=None, anchor=None,
                           group_by: Sequence[str] = ()) -> models.Meter:
        """See :meth:`meterclient.Client.create_meter`."""
        return await self._invoke(calls.create_meter(
            event_name, display_name, aggregation, field=field, reset=reset,
            billing_period=billing_period, filters=filters, multiplier=multiplier, anchor=anchor,
            group_by=group_by))

    async def get_meter(self, reference: str) -> models.Meter:
        """See :meth:`meterclient.Client.get_meter`."""
        return await self._invoke(calls.get_meter(reference))

    async def list_meters(self, include_archived: bool = False,
                          page_size: int = 0) -> list[models.Meter]:
        """See :meth:`meterclient.Client.list_meters`."""
        meters: list[models.Meter] = []
        token = ""
        while True:
            page, token = await self._invoke(
                calls.list_meters_page(include_archived, page_size, token))
            meters.extend(page)
            if not token:
                return meters

    async def update_meter(self, reference: str, display_name: str) -> models.Meter:
        """See :meth:`meterclient.Client.update_meter`."""
        return await self._invoke(calls.update_meter(reference, display_name))

    async def archive_meter(self, reference: str) -> models.Meter:
        """See :meth:`meterclient.Client.archive_meter`."""
        return await self._invoke(calls.archive_meter(reference))

    async def ingest(self, event: models.Event) -> models.EventResult:
        """See :meth:`meterclient.Client.ingest`."""
        return await self._invoke(calls.ingest(event))

    async def ingest_batch(self, events: Iterable[models.Event], *,
                           entitlement_effects: bool = False) -> models.BatchResult:
        """See :meth:`meterclient.Client.ingest_batch`."""
        return await self._invoke(calls.ingest_batch(events, entitlement_effects))

    async def query_usage(self, reference: str, start, end, *, window=None,
                          customer: str | None = None, group_by_customer: bool = False,
                          group_by: Sequence[str] = (),
                          group_filters: Mapping[str, Sequence[str]] | None = None
                          ) -> models.UsageRows:
        """See :meth:`meterclient.Client.query_usage`."""
        return await self._invoke(calls.query_usage(
            reference, start, end, window=window, customer=customer,
            group_by_customer=group_by_customer, group_by=group_by, group_filters=group_filters))

    async def current_usage(self, reference: str, customer: str | None = None,
                            at=None) -> models.CurrentUsage:
        """See :meth:`meterclient.Client.current_usage`."""
        return await self._invoke(calls.current_usage(reference, customer, at))

    async def set_entitlement(self, reference: str, limit, customer: str | None = None, soft: bool = False):
        """See :meth:`meterclient.Client.set_entitlement`."""
        return await self._invoke(calls.set_entitlement(reference, limit, customer, soft))

    async def add_grant(self, reference: str, customer: str, amount, effective_from=None, expires_at=None):
        """See :meth:`meterclient.Client.add_grant`."""
        return await self._invoke(calls.add_grant(reference, customer, amount, effective_from, expires_at))

    async def check_entitlement(self, reference: str, customer: str, at=None) -> models.EntitlementCheck:
        """See :meth:`meterclient.Client.check_entitlement`."""
        return await self._invoke(calls.check_entitlement(reference, customer, at))

    async def add_threshold_rule(self, reference: str, *, value=None, percent=None, customer: str | None = None):
        """See :meth:`meterclient.Client.add_threshold_rule`."""
        return await self._invoke(calls.add_threshold_rule(reference, value=value, percent=percent, customer=customer))

    async def watch_notifications(self, after: int = 0, *, meter: str | None = None,
                                  wait: float | None = None) -> AsyncIterator[models.Notification]:
        """See :meth:`meterclient.Client.watch_notifications`: an async generator. Leaving the
        ``async for`` and calling ``aclose()`` on it (or letting it be collected) sends CANCEL."""
        request = pb.WatchNotificationsRequest(after_number=after)
        if meter is not None:
            request.meter.CopyFrom(models.meter_reference(meter))
        connection = await self._current_connection()
        stream = await connection.open_stream(Method.WATCH_NOTIFICATIONS, request.SerializeToString(), self.timeout)
        try:
            while True:
                payload = await stream.next(wait)
                if payload is None:
                    return
                message = pb.Notification()
                message.ParseFromString(payload)
                yield models.Notification.from_message(message)
        finally:
            await stream.cancel(self.timeout)

    async def health(self) -> models.Health:
        """See :meth:`meterclient.Client.health`."""
        return await self._invoke(calls.health())

    async def server_info(self) -> models.ServerInfo:
        """See :meth:`meterclient.Client.server_info`."""
        return await self._invoke(calls.server_info())

    async def ping(self, timeout: float | None = None) -> None:
        """Send a PING and wait for the PONG."""
        connection = await self._current_connection()
        await connection.ping(timeout=self.timeout if timeout is None else timeout)


async def retry(operation, *, attempts: int = 5, initial_delay: float = 0.1,
                max_delay: float = 2.0):
    """Await ``operation()`` again after a retryable MeterError, with exponential backoff."""
    delay = initial_delay
    for attempt in range(attempts):
        try:
            return await operation()
        except errors.MeterError as error:
            if not error.retryable or attempt == attempts - 1:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
