"""Every golden frame of proto/testdata decodes to the documented values and re-encodes to the
same bytes, and the client's own request builders produce those bytes."""

from __future__ import annotations

import decimal

import pytest

from conftest import TESTDATA_DIRECTORY
from meterclient import AlreadyExists, Event, calls, errors
from meterclient.handshake import GoAway, opening_bytes, response_payload
from meterclient.proto import meterd_pb2 as pb
from meterclient.wire import PREFACE, Frame, FrameDecoder, FrameType, Method, encode_frame

# Which protobuf message each frame file carries.
PAYLOAD_TYPES = {
    "handshake.hex": pb.Handshake,
    "create_meter_request.hex": pb.CreateMeterRequest,
    "ingest_batch_request.hex": pb.IngestBatchRequest,
    "error_response.hex": pb.ErrorDetail,
    "goaway_bad_preface.hex": pb.GoAway,
}


def vector(name: str) -> bytes:
    text = (TESTDATA_DIRECTORY / name).read_text()
    assert text.endswith("\n") and text.strip() == text[:-1], f"{name}: one hex line expected"
    return bytes.fromhex(text.strip())


def decode_single_frame(data: bytes) -> Frame:
    decoder = FrameDecoder()
    decoder.feed(data)
    frame = decoder.next_frame()
    assert frame is not None and decoder.buffered == 0
    return frame


def test_every_vector_file_is_covered():
    files = {path.name for path in TESTDATA_DIRECTORY.glob("*.hex")}
    assert files == set(PAYLOAD_TYPES) | {"preface.hex"}


def test_preface():
    assert vector("preface.hex") == PREFACE == b"MTRD\x00\x01\x00\x00"


@pytest.mark.parametrize("name", sorted(PAYLOAD_TYPES))
def test_frame_and_payload_round_trip_byte_for_byte(name):
    data = vector(name)
    frame = decode_single_frame(data)
    message = PAYLOAD_TYPES[name]()
    message.ParseFromString(frame.payload)
    reencoded = encode_frame(frame.frame_type, message.SerializeToString(), code=frame.code,
                             stream_id=frame.stream_id)
    assert reencoded == data


def test_frames_split_at_every_byte_decode_the_same():
    data = b"".join(vector(name) for name in sorted(PAYLOAD_TYPES))
    decoder = FrameDecoder()
    frames = []
    for index in range(len(data)):
        decoder.feed(data[index:index + 1])
        frames.extend(decoder.frames())
    assert [frame.encode() for frame in frames] == [vector(name) for name in sorted(PAYLOAD_TYPES)]


def test_handshake_vector():
    frame = decode_single_frame(vector("handshake.hex"))
    assert (frame.frame_type, frame.code, frame.stream_id) == (FrameType.HANDSHAKE, 0, 0)
    message = pb.Handshake.FromString(frame.payload)
    assert message.protocol_version == 1
    assert message.client_name == "golden-client"
    assert message.tenant_id == "default"
    assert message.credential == ""
    assert message.max_frame_bytes == 4194304
    assert opening_bytes("default", client_name="golden-client") == \
        vector("preface.hex") + vector("handshake.hex")


def test_create_meter_vector():
    frame = decode_single_frame(vector("create_meter_request.hex"))
    assert (frame.frame_type, frame.code, frame.stream_id) == (FrameType.REQUEST, 1, 1)
    definition = pb.CreateMeterRequest.FromString(frame.payload).definition
    assert definition.event_name == "tokens_used"
    assert definition.display_name == "Tokens Used"
    assert [(item.key, list(item.values)) for item in definition.filters] == \
        [("model", ["llama3.1", "llama3.2"])]
    assert definition.aggregation == pb.SUM and definition.field == "tokens"
    assert definition.reset == pb.PERIODIC and definition.billing_period == pb.MONTHLY
    assert not definition.has_anchor and definition.multiplier == ""

    call = calls.create_meter("tokens_used", "Tokens Used", "SUM", field="tokens",
                              filters={"model": ["llama3.1", "llama3.2"]}, reset="PERIODIC",
                              billing_period="MONTHLY")
    assert call.method == Method.CREATE_METER
    built = encode_frame(FrameType.REQUEST, call.payload(), code=call.method, stream_id=1)
    assert built == vector("create_meter_request.hex")


def test_ingest_batch_vector():
    frame = decode_single_frame(vector("ingest_batch_request.hex"))
    assert (frame.frame_type, frame.code, frame.stream_id) == (FrameType.REQUEST, 17, 3)
    request = pb.IngestBatchRequest.FromString(frame.payload)
    events = [Event.from_message(item) for item in request.events]
    expected = [
        Event("evt-1", "tokens_used", "cust-42", 1767225600000,
              {"model": "llama3.1", "tokens": 1250}, source="api"),
        Event("evt-2", "tokens_used", "cust-42", 1767225660000,
              {"model": "llama3.2", "tokens": decimal.Decimal("25.5")}),
    ]
    assert events == expected
    assert isinstance(events[1].properties["tokens"], decimal.Decimal)

    call = calls.ingest_batch(expected)
    built = encode_frame(FrameType.REQUEST, call.payload(), code=call.method, stream_id=3)
    assert built == vector("ingest_batch_request.hex")


def test_error_response_vector():
    frame = decode_single_frame(vector("error_response.hex"))
    assert (frame.frame_type, frame.code, frame.stream_id) == (FrameType.RESPONSE, 6, 1)
    with pytest.raises(AlreadyExists) as caught:
        response_payload(frame)
    error = caught.value
    assert error.code == errors.StatusCode.ALREADY_EXISTS and error.code_number == 6
    assert error.code_name == "ALREADY_EXISTS"
    assert error.reason == "METER_ALREADY_EXISTS"
    assert error.message == ('an active meter already uses event name "tokens_used"; '
                             "archive it first to replace it")


def test_goaway_vector():
    frame = decode_single_frame(vector("goaway_bad_preface.hex"))
    assert (frame.frame_type, frame.code, frame.stream_id) == (FrameType.GOAWAY, 0, 0)
    assert GoAway.from_frame(frame) == GoAway("bad preface: not a meterd client", 0)


def test_ping_and_pong_from_the_protocol_document():
    payload = bytes(range(1, 9))
    assert encode_frame(FrameType.PING, payload, stream_id=7).hex() == \
        "000000080500000000000007" + payload.hex()
    assert encode_frame(FrameType.PONG, payload, stream_id=7).hex() == \
        "000000080600000000000007" + payload.hex()
