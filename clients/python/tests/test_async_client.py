"""The asyncio client: the meter guide's flow and many concurrent calls on one connection."""

from __future__ import annotations

import asyncio
import decimal

import pytest

from meterclient import AlreadyExists, AsyncClient, Event, EventStatus, NotFound
from usage_fixtures import (EXPECTED_BY_CUSTOMER, EXPECTED_STATUSES, EXPECTED_TOTAL, MINUTE_MS,
                            base_minute_ms, example_events)


async def create_tokens_meter(client):
    return await client.create_meter(
        "tokens_used", "Tokens Used", "SUM", field="tokens",
        filters={"model": ["llama3.1", "llama3.2"]}, reset="PERIODIC", billing_period="MONTHLY")


def test_async_meter_guide_example(meterd, transport):
    async def scenario():
        async with await AsyncClient.connect(meterd.address(transport), **meterd.options(transport)) as client:
            meter = await create_tokens_meter(client)
            base = base_minute_ms()
            results = await client.ingest_batch(example_events(base))
            assert [result.status.name for result in results] == EXPECTED_STATUSES
            rows = await client.query_usage(meter.id, base - 60 * MINUTE_MS,
                                            base + 60 * MINUTE_MS, group_by_customer=True)
            assert {row.customer_id: row.value for row in rows} == EXPECTED_BY_CUSTOMER
            current = await client.current_usage("tokens_used", at=base)
            assert current.value == EXPECTED_TOTAL
            with pytest.raises(AlreadyExists):
                await create_tokens_meter(client)
            with pytest.raises(NotFound):
                await client.get_meter("missing")
            assert (await client.health()).serving
            assert [item.id for item in await client.list_meters()] == [meter.id]
            assert (await client.update_meter(meter.id, "T")).display_name == "T"
            assert (await client.server_info()).durability == "fsync"
            await client.ping()

    asyncio.run(scenario())


def test_fifty_concurrent_calls_on_one_connection(meterd, transport):
    async def scenario():
        async with await AsyncClient.connect(meterd.address(transport), **meterd.options(transport)) as client:
            await create_tokens_meter(client)
            connection = client._connection
            base = base_minute_ms()

            async def one(index: int):
                kind = index % 5
                if kind == 0:
                    return await client.ingest(Event(
                        f"concurrent-{index}", "tokens_used", "cust-c", base,
                        {"model": "llama3.1", "tokens": decimal.Decimal(f"{index}.5")}))
                if kind == 1:
                    return await client.get_meter("tokens_used")
                if kind == 2:
                    return await client.health()
                if kind == 3:
                    return await client.query_usage("tokens_used", base - MINUTE_MS,
                                                    base + MINUTE_MS)
                with pytest.raises(NotFound):
                    await client.get_meter(f"missing_{index}")
                return index

            results = await asyncio.gather(*(one(index) for index in range(50)))
            assert client._connection is connection  # all fifty shared one connection
            ingested = [results[index] for index in range(0, 50, 5)]
            assert all(result.status == EventStatus.ACCEPTED for result in ingested)
            assert [results[index] for index in range(4, 50, 5)] == list(range(4, 50, 5))
            assert all(results[index].event_name == "tokens_used" for index in range(1, 50, 5))
            rows = await client.query_usage("tokens_used", base - MINUTE_MS, base + MINUTE_MS,
                                            customer="cust-c")
            assert rows[0].value == sum(decimal.Decimal(f"{index}.5") for index in range(0, 50, 5))

    asyncio.run(scenario())


def test_more_concurrent_calls_than_the_in_flight_limit_wait_their_turn(meterd, transport):
    async def scenario():
        async with await AsyncClient.connect(meterd.address(transport), **meterd.options(transport)) as client:
            await create_tokens_meter(client)
            limit = client.connection_info.max_in_flight
            results = await asyncio.gather(*(client.get_meter("tokens_used")
                                             for _ in range(limit * 3)))
            assert {meter.event_name for meter in results} == {"tokens_used"}

    asyncio.run(scenario())
