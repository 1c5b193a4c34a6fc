"""The meter guide's example meter and a batch of events shared by the live tests."""

from __future__ import annotations

import decimal
import time

MINUTE_MS = 60_000


def create_tokens_meter(client):
    """The meter guide's example: SUM of tokens over llama3.1/llama3.2, reset monthly."""
    return client.create_meter(
        "tokens_used", "Tokens Used", "SUM", field="tokens",
        filters={"model": ["llama3.1", "llama3.2"]}, reset="PERIODIC", billing_period="MONTHLY")


def base_minute_ms() -> int:
    """A whole minute ten minutes ago: inside the server's late window."""
    return int(time.time() * 1000) // MINUTE_MS * MINUTE_MS - 10 * MINUTE_MS


def example_events(base_ms: int, prefix: str = "evt"):
    """A batch with two counted events, a filtered one, a duplicate, a rejected one and another
    customer's decimal event. Counted: cust-42 1250 + 25.5 = 1275.5; cust-7 0.001."""
    from meterclient import Event

    return [
        Event(f"{prefix}-1", "tokens_used", "cust-42", base_ms,
              {"model": "llama3.1", "tokens": 1250}, source="api"),
        Event(f"{prefix}-2", "tokens_used", "cust-42", base_ms + MINUTE_MS,
              {"model": "llama3.2", "tokens": decimal.Decimal("25.5")}),
        Event(f"{prefix}-3", "tokens_used", "cust-42", base_ms,
              {"model": "gpt-4", "tokens": 999}),
        Event(f"{prefix}-1", "tokens_used", "cust-42", base_ms,
              {"model": "llama3.1", "tokens": 1250}, source="api"),
        Event(f"{prefix}-5", "tokens_used", "cust-42", base_ms - 3 * 86_400_000,
              {"model": "llama3.1", "tokens": 1}),
        Event(f"{prefix}-6", "tokens_used", "cust-7", base_ms,
              {"model": "llama3.1", "tokens": decimal.Decimal("0.001")}),
    ]


EXPECTED_STATUSES = ["ACCEPTED", "ACCEPTED", "ACCEPTED", "DUPLICATE", "REJECTED", "ACCEPTED"]
EXPECTED_OUTCOMES = ["COUNTED", "COUNTED", "FILTERED_OUT", "UNSPECIFIED", "UNSPECIFIED", "COUNTED"]
EXPECTED_TOTAL = decimal.Decimal("1275.501")
EXPECTED_BY_CUSTOMER = {"cust-42": decimal.Decimal("1275.5"), "cust-7": decimal.Decimal("0.001")}
