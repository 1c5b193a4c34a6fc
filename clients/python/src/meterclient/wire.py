"""Framing of the meterd wire protocol (docs/protocol.md): preface, 12-byte header, frame types.

This module knows nothing about sockets: it turns frames into bytes and bytes into frames, so
the blocking and the asyncio clients share it, and the golden vectors test it directly.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .errors import ProtocolError

PROTOCOL_VERSION = 1
PREFACE = b"MTRD" + struct.pack(">HH", PROTOCOL_VERSION, 0)
HEADER_SIZE = 12
DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024
MAX_STREAM_ID = 0xFFFFFFFF

_HEADER = struct.Struct(">IBBHI")


class FrameType(enum.IntEnum):
    """The frame types of protocol version 1."""

    REQUEST = 1
    RESPONSE = 2
    HANDSHAKE = 3
    HANDSHAKE_ACK = 4
    PING = 5
    PONG = 6
    GOAWAY = 7
    MESSAGE = 8   # server: one message of a server stream (WatchNotifications)
    CANCEL = 9    # client: end one of its open server streams


class Method(enum.IntEnum):
    """Method ids, carried in the ``code`` field of a REQUEST header."""

    CREATE_METER = 1
    GET_METER = 2
    LIST_METERS = 3
    UPDATE_METER = 4
    ARCHIVE_METER = 5
    INGEST = 16
    INGEST_BATCH = 17
    QUERY_USAGE = 32
    CURRENT_USAGE = 33
    HEALTH_CHECK = 48
    SERVER_INFO = 49
    SET_ENTITLEMENT = 80
    LIST_ENTITLEMENTS = 81
    REMOVE_ENTITLEMENT = 82
    ADD_GRANT = 83
    REMOVE_GRANT = 84
    CHECK_ENTITLEMENT = 85
    ADD_THRESHOLD_RULE = 86
    LIST_THRESHOLD_RULES = 87
    REMOVE_THRESHOLD_RULE = 88
    LIST_NOTIFICATIONS = 89
    WATCH_NOTIFICATIONS = 91  # a server stream (docs/protocol.md, "Server streams")


@dataclass(frozen=True)
class Frame:
    """One frame: header fields and the raw payload bytes."""

    frame_type: int
    code: int = 0
    stream_id: int = 0
    payload: bytes = b""
    flags: int = 0

    def encode(self) -> bytes:
        """Return the whole frame (header followed by payload) as bytes."""
        return _HEADER.pack(len(self.payload), self.frame_type, self.flags, self.code,
                            self.stream_id) + self.payload


def encode_frame(frame_type: int, payload: bytes = b"", *, code: int = 0, stream_id: int = 0) -> bytes:
    """Encode one frame with the given header fields and payload."""
    return Frame(frame_type, code, stream_id, payload).encode()


def decode_header(header: bytes) -> tuple[int, int, int, int, int]:
    """Split a 12-byte header into (length, frame type, flags, code, stream id)."""
    if len(header) != HEADER_SIZE:
        raise ProtocolError(f"frame header must be {HEADER_SIZE} bytes, got {len(header)}")
    return _HEADER.unpack(header)


class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive and take out whole frames.

    It never parses a partial frame and refuses a payload larger than ``max_frame_bytes`` before
    buffering it, as the protocol intends.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer.extend(data)

    @property
    def buffered(self) -> int:
        """Number of bytes received but not yet returned as frames."""
        return len(self._buffer)

    def next_frame(self) -> Frame | None:
        """Return the next complete frame, or None when more bytes are needed."""
        if len(self._buffer) < HEADER_SIZE:
            return None
        length, frame_type, flags, code, stream_id = _HEADER.unpack_from(self._buffer)
        if length > self.max_frame_bytes:
            raise ProtocolError(
                f"frame payload of {length} bytes exceeds the limit of {self.max_frame_bytes}")
        if flags != 0:
            raise ProtocolError(f"frame flags must be 0, got {flags}")
        end = HEADER_SIZE + length
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[HEADER_SIZE:end])
        del self._buffer[:end]
        return Frame(frame_type, code, stream_id, payload, flags)

    def frames(self) -> list[Frame]:
        """Return every complete frame buffered so far."""
        result = []
        while (frame := self.next_frame()) is not None:
            result.append(frame)
        return result


class StreamIdAllocator:
    """Hands out non-zero u32 stream ids: a counter from 1 that skips 0 and ids still in use."""

    def __init__(self) -> None:
        self._next = 1

    def allocate(self, in_use) -> int:
        """Return an id that is not in ``in_use`` (a container of outstanding ids)."""
        while True:
            candidate = self._next
            self._next = 1 if self._next >= MAX_STREAM_ID else self._next + 1
            if candidate not in in_use:
                return candidate
