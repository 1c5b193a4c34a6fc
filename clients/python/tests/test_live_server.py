"""The blocking client against a real meterd, over the Unix socket and over TCP."""

from __future__ import annotations

import decimal
import socket

import pytest

import meterclient
from meterclient import (AlreadyExists, Client, EventOutcome, EventStatus, FailedPrecondition,
                         InvalidArgument, MeterError, MeterStatus, NotFound, StatusCode)
from usage_fixtures import (EXPECTED_BY_CUSTOMER, EXPECTED_OUTCOMES, EXPECTED_STATUSES,
                            EXPECTED_TOTAL, MINUTE_MS, base_minute_ms, create_tokens_meter,
                            example_events)


def test_meter_guide_example_end_to_end(meterd, transport):
    with Client.connect(meterd.address(transport), tenant="default", timeout=10.0, **meterd.options(transport)) as client:
        assert client.connection_info.tenant_id == "default"
        assert client.health().serving
        meter = create_tokens_meter(client)
        assert meter.id.startswith("mtr_")
        assert meter.display_name == "Tokens Used"
        assert meter.filters == {"model": ["llama3.1", "llama3.2"]}
        assert meter.status == MeterStatus.ACTIVE

        base = base_minute_ms()
        results = client.ingest_batch(example_events(base))
        assert [result.status.name for result in results] == EXPECTED_STATUSES
        assert [result.outcome.name for result in results] == EXPECTED_OUTCOMES
        assert results[4].reason == "TIMESTAMP_TOO_OLD" and results[4].message
        assert (results.accepted, results.duplicates, results.rejected) == (4, 1, 1)

        rows = client.query_usage("tokens_used", base - 60 * MINUTE_MS, base + 60 * MINUTE_MS)
        assert len(rows) == 1
        assert rows[0].value == EXPECTED_TOTAL and isinstance(rows[0].value, decimal.Decimal)
        assert str(rows[0].value) == "1275.501"
        assert rows[0].event_count == 3
        assert rows.meter.id == meter.id

        by_customer = client.query_usage(meter.id, base - 60 * MINUTE_MS, base + 60 * MINUTE_MS,
                                         group_by_customer=True)
        assert {row.customer_id: row.value for row in by_customer} == EXPECTED_BY_CUSTOMER

        per_minute = client.query_usage(meter.id, base, base + 2 * MINUTE_MS, window="MINUTE",
                                        customer="cust-42")
        assert [row.value for row in per_minute] == [decimal.Decimal("1250"),
                                                     decimal.Decimal("25.5")]

        current = client.current_usage("tokens_used", customer="cust-42", at=base)
        assert current.value == decimal.Decimal("1275.5")
        assert current.row.customer_id == "cust-42"

        single = client.ingest(meterclient.Event("evt-single", "tokens_used", "cust-7", base,
                                                 {"model": "llama3.2", "tokens": 2}))
        assert single.status == EventStatus.ACCEPTED and single.outcome == EventOutcome.COUNTED
        assert client.current_usage("tokens_used", customer="cust-7", at=base).value == \
            decimal.Decimal("2.001")

        info = client.server_info()
        assert info.version and info.durability == "fsync"
        assert client.ping() >= 0


def test_meter_administration(meterd, transport):
    with Client.connect(meterd.address(transport), **meterd.options(transport)) as client:
        meter = create_tokens_meter(client)
        assert client.get_meter(meter.id) == client.get_meter("tokens_used")
        renamed = client.update_meter("tokens_used", "Tokens (LLM)")
        assert renamed.display_name == "Tokens (LLM)"
        assert [item.id for item in client.list_meters()] == [meter.id]
        archived = client.archive_meter(meter.id)
        assert archived.status == MeterStatus.ARCHIVED and archived.archived_at is not None
        assert client.list_meters() == []
        assert [item.id for item in client.list_meters(include_archived=True)] == [meter.id]
        replacement = client.create_meter("tokens_used", "Requests", "COUNT")
        assert replacement.id != meter.id


def test_errors_map_to_exception_types(meterd, transport):
    with Client.connect(meterd.address(transport), **meterd.options(transport)) as client:
        meter = create_tokens_meter(client)

        with pytest.raises(AlreadyExists) as caught:
            create_tokens_meter(client)
        assert caught.value.code == StatusCode.ALREADY_EXISTS and caught.value.code_number == 6
        assert caught.value.code_name == "ALREADY_EXISTS"
        assert caught.value.reason == "METER_ALREADY_EXISTS"
        assert "tokens_used" in caught.value.message and not caught.value.retryable

        with pytest.raises(NotFound) as caught:
            client.get_meter("no_such_meter")
        assert caught.value.reason == "METER_NOT_FOUND" and caught.value.code_number == 5
        with pytest.raises(NotFound):
            client.get_meter("mtr_999999")

        with pytest.raises(InvalidArgument) as caught:
            client.create_meter("Bad Name", "x", "COUNT")
        assert caught.value.reason == "INVALID_EVENT_NAME" and caught.value.code_number == 3

        with pytest.raises(InvalidArgument) as caught:
            client.query_usage(meter.id, 1, MINUTE_MS)
        assert caught.value.reason == "INVALID_QUERY"

        client.archive_meter(meter.id)
        with pytest.raises(FailedPrecondition) as caught:
            client.archive_meter(meter.id)
        assert caught.value.code_number == 9 and caught.value.reason == "METER_ARCHIVED"

        # Every error is a MeterError, and the connection stays usable after request errors.
        with pytest.raises(MeterError):
            client.get_meter("still_missing")
        assert client.health().serving


def test_float_properties_are_refused_before_sending(meterd, transport):
    with Client.connect(meterd.address(transport), **meterd.options(transport)) as client:
        with pytest.raises(TypeError, match="float"):
            client.ingest(meterclient.Event("e", "tokens_used", "c", base_minute_ms(),
                                            {"tokens": 1.5}))
        assert client.health().serving


def test_connection_refused_is_a_connection_error(tmp_path):
    with pytest.raises(meterclient.ConnectionError) as caught:
        Client.connect(f"unix:{tmp_path}/missing.sock", timeout=2.0)
    assert caught.value.retryable
    assert isinstance(caught.value, ConnectionError)  # the builtin


def test_invalid_tenant_handshake_is_refused(meterd):
    with pytest.raises(meterclient.ConnectionError, match="refused the handshake"):
        Client.connect(meterd.unix_address, tenant="not a valid tenant!")


def test_api_key_decides_the_tenant_and_tcp_needs_one(meterd, monkeypatch):
    monkeypatch.delenv("METERD_API_KEY", raising=False)
    with pytest.raises(meterclient.Unauthenticated, match="API key is required on TCP"):
        Client.connect(meterd.tcp_address)
    with pytest.raises(meterclient.Unauthenticated, match="unknown API key"):
        Client.connect(meterd.tcp_address, api_key="mk_" + "A" * 43)
    with pytest.raises(meterclient.PermissionDenied, match="belongs to tenant default"):
        Client.connect(meterd.tcp_address, tenant="acme", api_key=meterd.bootstrap_key)
    with Client.connect(meterd.tcp_address, api_key=meterd.bootstrap_key) as client:
        info = client.connection_info
        assert (info.tenant_id, info.role, info.principal) == ("default", "admin", "key key_1")
    monkeypatch.setenv("METERD_API_KEY", meterd.bootstrap_key)
    with Client.connect(meterd.tcp_address) as client:
        assert client.connection_info.principal == "key key_1"


def test_wrong_preface_gets_the_golden_goaway(meterd):
    from conftest import TESTDATA_DIRECTORY

    expected = bytes.fromhex((TESTDATA_DIRECTORY / "goaway_bad_preface.hex").read_text().strip())
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(10)
        raw.connect(meterd.socket_path)
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
        received = b""
        while chunk := raw.recv(4096):
            received += chunk
    assert received == expected


def test_requests_pipelined_on_one_connection_are_matched_by_stream_id(meterd, transport):
    import time

    from meterclient import calls

    with Client.connect(meterd.address(transport), **meterd.options(transport)) as client:
        create_tokens_meter(client)
        connection = client._current_connection()
        deadline = time.monotonic() + 10
        sent = []
        for index in range(20):
            call = calls.get_meter("tokens_used") if index % 2 else calls.health()
            sent.append((call, connection.send_request(call.method, call.payload(), deadline)))
        # Collect in reverse order: answers for other streams are kept until asked for.
        for call, stream_id in reversed(sent):
            value = call.decode(connection.receive_response(stream_id, deadline))
            assert isinstance(value, (meterclient.Meter, meterclient.Health))


def test_many_threads_share_one_client(meterd, transport):
    from concurrent.futures import ThreadPoolExecutor

    with Client.connect(meterd.address(transport), **meterd.options(transport)) as client:
        create_tokens_meter(client)
        limit = client.connection_info.max_in_flight
        with ThreadPoolExecutor(max_workers=limit * 2) as pool:
            meters = list(pool.map(lambda _: client.get_meter("tokens_used"), range(limit * 4)))
        assert {meter.event_name for meter in meters} == {"tokens_used"}
