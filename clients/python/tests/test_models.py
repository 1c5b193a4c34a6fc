"""Unit tests of value mapping, addresses, errors and framing limits (no server needed)."""

from __future__ import annotations

import datetime
import decimal

import pytest

from meterclient import Event, InvalidArgument, MeterError, NotFound, ProtocolError, Unavailable
from meterclient.address import Address, parse_address
from meterclient.errors import StatusCode, error_for_status
from meterclient.models import (decimal_text, from_milliseconds, meter_reference, property_value,
                                to_milliseconds)
from meterclient.wire import FrameDecoder, FrameType, StreamIdAllocator, encode_frame


@pytest.mark.parametrize("value, field, wire", [
    (1250, "integer_value", 1250),
    (-7, "integer_value", -7),
    (decimal.Decimal("25.5"), "decimal_value", "25.5"),
    (decimal.Decimal("1E+3"), "decimal_value", "1000"),
    (decimal.Decimal("-0.001"), "decimal_value", "-0.001"),
    ("llama3.1", "string_value", "llama3.1"),
    (True, "bool_value", True),
    (False, "bool_value", False),
])
def test_property_values(value, field, wire):
    message = property_value(value)
    assert message.WhichOneof("kind") == field
    assert getattr(message, field) == wire


def test_float_property_is_a_type_error():
    with pytest.raises(TypeError, match="float"):
        property_value(1.5)
    with pytest.raises(TypeError, match="float"):
        Event("e", "n", "c", 0, {"tokens": 0.1}).to_message()
    with pytest.raises(TypeError):
        decimal_text(2.5)


def test_non_finite_decimal_is_refused():
    with pytest.raises(ValueError):
        decimal_text(decimal.Decimal("NaN"))


def test_meter_reference():
    assert meter_reference("mtr_12").WhichOneof("kind") == "id"
    assert meter_reference("tokens_used").WhichOneof("kind") == "event_name"
    with pytest.raises(TypeError):
        meter_reference("")


def test_times():
    moment = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert to_milliseconds(moment) == 1767225600000
    assert from_milliseconds(1767225600000) == moment
    assert to_milliseconds(42) == 42
    with pytest.raises(ValueError, match="naive"):
        to_milliseconds(datetime.datetime(2026, 1, 1))


@pytest.mark.parametrize("text, expected", [
    ("unix:/run/meterd.sock", Address(unix_path="/run/meterd.sock")),
    ("/tmp/meterd.sock", Address(unix_path="/tmp/meterd.sock")),
    ("./meterd.sock", Address(unix_path="./meterd.sock")),
    ("127.0.0.1:7878", Address(host="127.0.0.1", port=7878)),
    ("tcp:localhost:7878", Address(host="localhost", port=7878)),
    ("[::1]:7878", Address(host="::1", port=7878)),
])
def test_addresses(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "localhost", "host:port", "host:70000", "unix:"])
def test_bad_addresses(text):
    with pytest.raises(ValueError):
        parse_address(text)


def test_status_codes_map_to_exception_classes():
    error = error_for_status(5, "gone", "METER_NOT_FOUND")
    assert isinstance(error, NotFound) and isinstance(error, MeterError)
    assert (error.code, error.code_number, error.code_name) == (StatusCode.NOT_FOUND, 5, "NOT_FOUND")
    assert str(error) == "NOT_FOUND (5) METER_NOT_FOUND: gone"
    assert isinstance(error_for_status(3, "bad"), InvalidArgument)
    unavailable = error_for_status(14, "shutting down")
    assert isinstance(unavailable, Unavailable) and unavailable.retryable
    unknown = error_for_status(99, "future code")
    assert type(unknown) is MeterError and unknown.code_number == 99


def test_decoder_refuses_oversized_frames_before_buffering():
    decoder = FrameDecoder(max_frame_bytes=16)
    decoder.feed(encode_frame(FrameType.RESPONSE, b"x" * 17, stream_id=1)[:12])
    with pytest.raises(ProtocolError, match="exceeds"):
        decoder.next_frame()


def test_decoder_refuses_non_zero_flags():
    decoder = FrameDecoder()
    decoder.feed(bytes.fromhex("00000000" "02" "01" "0000" "00000001"))
    with pytest.raises(ProtocolError, match="flags"):
        decoder.next_frame()


def test_stream_ids_skip_zero_and_ids_in_use():
    allocator = StreamIdAllocator()
    assert [allocator.allocate(set()) for _ in range(3)] == [1, 2, 3]
    allocator._next = 0xFFFFFFFF
    assert allocator.allocate(set()) == 0xFFFFFFFF
    assert allocator.allocate({1, 2}) == 3
