"""WatchNotifications, the server stream of threshold notifications, against a real meterd:
the backlog then live notifications, resuming from the cursor after a disconnect and after a
SIGKILL restart with nothing missed and nothing twice, and the end of the stream on shutdown."""

from __future__ import annotations

import asyncio
import decimal
import time

import pytest

from meterclient import Client, Event, NotFound


def _event(event_id: str, customer: str = "acme") -> Event:
    return Event(event_id=event_id, event_name="api_call", customer_id=customer, timestamp=int(time.time() * 1000))


def _connect(meterd, transport) -> Client:
    return Client.connect(meterd.address(transport), tenant="default", timeout=10.0, **meterd.options(transport))


def _sigkill_and_restart(meterd) -> None:
    process, meterd.process = meterd.process, None
    process.kill()
    process.wait()
    meterd.start()


def test_watch_backlog_live_resume_and_sigkill(meterd, transport):
    with _connect(meterd, transport) as admin:
        admin.create_meter("api_call", "API calls", "COUNT")
        # One rule per level: each event of a customer raises exactly one notification.
        for level in range(1, 7):
            admin.add_threshold_rule("api_call", value=decimal.Decimal(level))
        admin.ingest_batch([_event("e1")])
        admin.ingest_batch([_event("e2")])

        with _connect(meterd, transport) as watcher:
            stream = watcher.watch_notifications(after=0, wait=20)
            received = [next(stream), next(stream)]  # the backlog
            admin.ingest_batch([_event("e3")])       # raised while the stream is open
            received.append(next(stream))
            assert [n.number for n in received] == [1, 2, 3]
            assert [n.usage for n in received] == [decimal.Decimal(1), decimal.Decimal(2), decimal.Decimal(3)]
            stream.close()  # CANCEL, then the stream's RESPONSE CANCELLED
            # The connection and its in-flight slot are still good.
            assert watcher.health().status.name == "SERVING"
        cursor = received[-1].number

        admin.ingest_batch([_event("e4")])
        admin.ingest_batch([_event("e5")])
        with _connect(meterd, transport) as watcher:
            stream = watcher.watch_notifications(after=cursor, wait=20)
            resumed = [next(stream), next(stream)]
            assert [n.number for n in resumed] == [4, 5]
            stream.close()
        cursor = resumed[-1].number

    _sigkill_and_restart(meterd)
    with _connect(meterd, transport) as admin, _connect(meterd, transport) as watcher:
        admin.ingest_batch([_event("b1", customer="beta")])
        stream = watcher.watch_notifications(after=cursor, wait=20)
        after_restart = next(stream)
        assert (after_restart.number, after_restart.customer_id) == (6, "beta")
        admin.ingest_batch([_event("e6")])
        assert next(stream).number == 7
        stream.close()

        everything = watcher.watch_notifications(after=0, wait=20)
        assert [next(everything).number for _ in range(7)] == list(range(1, 8))
        everything.close()

        with pytest.raises(NotFound):
            next(watcher.watch_notifications(meter="no_such_meter", wait=20))
        filtered = watcher.watch_notifications(after=6, meter="api_call", wait=20)
        assert next(filtered).number == 7
        filtered.close()


def test_shutdown_ends_the_stream_cleanly(meterd, transport):
    with _connect(meterd, transport) as admin:
        admin.create_meter("api_call", "API calls", "COUNT")
        admin.add_threshold_rule("api_call", value=decimal.Decimal(1))
        admin.ingest_batch([_event("e1")])
    with _connect(meterd, transport) as watcher:
        stream = watcher.watch_notifications(after=0, wait=20)
        assert next(stream).number == 1
        assert meterd.stop() == 0
        # meterd ends open streams with OK before its GOAWAY: the iteration simply stops.
        with pytest.raises(StopIteration):
            next(stream)


def test_async_watch_backlog_live_cancel_and_resume(meterd, transport):
    from meterclient import AsyncClient

    async def scenario():
        options = meterd.options(transport)
        async with await AsyncClient.connect(meterd.address(transport), **options) as admin, \
                await AsyncClient.connect(meterd.address(transport), **options) as watcher:
            await admin.create_meter("api_call", "API calls", "COUNT")
            for level in range(1, 4):
                await admin.add_threshold_rule("api_call", value=decimal.Decimal(level))
            await admin.ingest_batch([_event("a1")])

            stream = watcher.watch_notifications(after=0, wait=20)
            first = await anext(stream)                     # the backlog
            await admin.ingest_batch([_event("a2")])        # raised while the stream is open
            second = await anext(stream)
            assert (first.number, second.number) == (1, 2)
            await stream.aclose()                            # CANCEL, then RESPONSE CANCELLED
            assert (await watcher.health()).serving

            await admin.ingest_batch([_event("a3")])
            resumed = watcher.watch_notifications(after=2, wait=20)
            assert (await anext(resumed)).number == 3
            await resumed.aclose()

            with pytest.raises(NotFound):
                await anext(watcher.watch_notifications(meter="no_such_meter", wait=20))

    asyncio.run(scenario())
