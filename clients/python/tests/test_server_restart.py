"""A server restart in the middle: the client reconnects, retries the same batch with the same
event ids, and nothing is counted twice."""

from __future__ import annotations

import asyncio

import pytest

import meterclient
from meterclient import AsyncClient, Client, EventStatus
from usage_fixtures import (EXPECTED_STATUSES, EXPECTED_TOTAL, MINUTE_MS, base_minute_ms,
                            create_tokens_meter, example_events)


def total(client, base):
    rows = client.query_usage("tokens_used", base - 60 * MINUTE_MS, base + 60 * MINUTE_MS)
    return rows[0].value


def assert_retried_batch_is_duplicate(results):
    # What was accepted before the restart (and the in-batch duplicate) is DUPLICATE now; the
    # invalid event is still REJECTED.
    expected = ["DUPLICATE" if status != "REJECTED" else "REJECTED" for status in EXPECTED_STATUSES]
    assert [result.status.name for result in results] == expected
    assert results.accepted == 0


def test_restart_then_retry_same_batch_is_not_double_counted(meterd, transport):
    base = base_minute_ms()
    events = example_events(base)
    with Client.connect(meterd.address(transport), timeout=10.0, **meterd.options(transport)) as client:
        create_tokens_meter(client)
        first = client.ingest_batch(events)
        assert [result.status.name for result in first] == EXPECTED_STATUSES
        assert total(client, base) == EXPECTED_TOTAL

        old_connection = client._connection
        meterd.restart()  # SIGTERM (exit 0 checked), then the same data dir, socket and port

        retried = client.ingest_batch(events)  # notices the old connection is gone, reconnects
        assert client._connection is not old_connection
        assert_retried_batch_is_duplicate(retried)
        assert total(client, base) == EXPECTED_TOTAL


def test_batch_sent_while_server_is_down_fails_retryably_and_retry_is_exact(meterd):
    base = base_minute_ms()
    events = example_events(base, prefix="down")
    with Client.connect(meterd.unix_address, timeout=5.0) as client:
        create_tokens_meter(client)
        assert client.ingest_batch(events[:2]).accepted == 2  # a first part got in

        assert meterd.stop() == 0
        with pytest.raises(meterclient.MeterError) as caught:
            client.ingest_batch(events)
        assert caught.value.retryable
        assert isinstance(caught.value, (meterclient.ConnectionError, meterclient.Unavailable))

        meterd.start()
        results = meterclient.retry(lambda: client.ingest_batch(events), attempts=10)
        assert [result.status for result in results[:2]] == [EventStatus.DUPLICATE] * 2
        assert results[2].status == EventStatus.ACCEPTED
        assert results[5].status == EventStatus.ACCEPTED
        assert total(client, base) == EXPECTED_TOTAL


def test_async_client_reconnects_after_restart(meterd):
    base = base_minute_ms()
    events = example_events(base, prefix="async")

    async def scenario():
        async with await AsyncClient.connect(meterd.unix_address) as client:
            await create_tokens_meter_async(client)
            assert (await client.ingest_batch(events)).accepted == 4
            meterd.restart()
            results = await meterclient.async_retry(lambda: client.ingest_batch(events))
            assert_retried_batch_is_duplicate(results)
            rows = await client.query_usage("tokens_used", base - 60 * MINUTE_MS,
                                            base + 60 * MINUTE_MS)
            assert rows[0].value == EXPECTED_TOTAL

    asyncio.run(scenario())


async def create_tokens_meter_async(client):
    return await client.create_meter(
        "tokens_used", "Tokens Used", "SUM", field="tokens",
        filters={"model": ["llama3.1", "llama3.2"]}, reset="PERIODIC", billing_period="MONTHLY")
