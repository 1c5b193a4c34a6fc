"""Entitlements, grants, threshold rules and the notification long poll against a real meterd."""

from __future__ import annotations

import decimal
import threading
import time

import pytest

from meterclient import Client, Event, NotFound


def _events(prefix: str, count: int, customer: str = "acme") -> list[Event]:
    now_ms = int(time.time() * 1000)
    return [Event(event_id=f"{prefix}{i}", event_name="api_call", customer_id=customer, timestamp=now_ms)
            for i in range(count)]


def test_check_grant_threshold_and_long_poll(meterd, transport):
    with Client.connect(meterd.address(transport), tenant="default", timeout=10.0, **meterd.options(transport)) as client:
        client.create_meter("api_call", "API calls", "COUNT")
        with pytest.raises(NotFound):
            client.check_entitlement("api_call", "acme")
        client.set_entitlement("api_call", decimal.Decimal("3"))
        client.add_threshold_rule("api_call", percent=decimal.Decimal("100"))

        answers = []
        with Client.connect(meterd.address(transport), tenant="default", timeout=10.0, **meterd.options(transport)) as watcher:
            poller = threading.Thread(target=lambda: answers.append(watcher.list_notifications(after=0, wait_ms=20_000)))
            started = time.monotonic()
            poller.start()
            client.ingest_batch(_events("p", 3))
            poller.join(timeout=30)
            assert not poller.is_alive()
            assert time.monotonic() - started < 15
        page = answers[0]
        assert [n.number for n in page.notifications] == [1]
        assert page.notifications[0].usage == decimal.Decimal(3)
        assert page.notifications[0].period_start_ms is None  # a CUMULATIVE meter: lifetime

        check = client.check_entitlement("api_call", "acme")
        assert not check.has_access and check.usage == decimal.Decimal(3) and check.remaining == 0
        assert check.is_default and check.enforcement == "HARD"
        client.add_grant("api_call", "acme", decimal.Decimal("1.5"), expires_at=int(time.time() * 1000) + 3_600_000)
        check = client.check_entitlement("api_call", "acme")
        assert check.has_access and check.limit == decimal.Decimal("4.5") and check.granted == decimal.Decimal("1.5")
        assert client.list_notifications(after=1).notifications == []


def test_ingest_batch_reports_each_events_entitlement_effect(meterd, transport):
    with Client.connect(meterd.address(transport), tenant="default", timeout=10.0, **meterd.options(transport)) as client:
        client.create_meter("effect_call", "Effect calls", "COUNT")
        client.set_entitlement("effect_call", decimal.Decimal("2"), customer="acme")
        now_ms = int(time.time() * 1000)
        events = [Event(event_id=f"fx{i}", event_name="effect_call", customer_id=customer, timestamp=now_ms)
                  for i, customer in enumerate(["acme", "acme", "acme", "globex"])]
        plain = client.ingest_batch(events[:1])
        assert plain[0].entitlement is None  # not asked for
        results = client.ingest_batch(events[1:], entitlement_effects=True)
        crossing, after, other = results
        assert crossing.entitlement.crossed and not crossing.entitlement.has_access
        assert crossing.entitlement.usage == 2 and crossing.entitlement.limit == 2 and crossing.entitlement.remaining == 0
        assert not after.entitlement.crossed and not after.entitlement.has_access and after.entitlement.usage == 3
        assert other.accepted and other.entitlement is None  # globex has no entitlement
