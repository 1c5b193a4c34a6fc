"""The connection-level messages: handshake, its acknowledgement, GOAWAY, and reading a RESPONSE.

Shared by the blocking and the asyncio connections; no I/O happens here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import errors
from .models import ConnectionInfo
from .proto import meterd_pb2 as pb
from .wire import DEFAULT_MAX_FRAME_BYTES, PREFACE, PROTOCOL_VERSION, Frame, FrameType, encode_frame

CLIENT_NAME = "meterclient-python/0.1.0"


def opening_bytes(tenant: str, *, client_name: str = CLIENT_NAME, credential: str = "",
                  max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """The preface followed by the HANDSHAKE frame: everything a client sends before the ack."""
    handshake = pb.Handshake(protocol_version=PROTOCOL_VERSION, client_name=client_name,
                             tenant_id=tenant, credential=credential,
                             max_frame_bytes=max_frame_bytes)
    return PREFACE + encode_frame(FrameType.HANDSHAKE, handshake.SerializeToString())


API_KEY_ENVIRONMENT_VARIABLE = "METERD_API_KEY"


def resolve_api_key(api_key: str | None, credential: str = "") -> str:
    """The credential to send: ``api_key`` when given, else the older ``credential`` argument,
    else $METERD_API_KEY, else none (the Unix socket's peer user may need none; TCP needs one)."""
    if api_key is not None:
        return api_key
    if credential:
        return credential
    return os.environ.get(API_KEY_ENVIRONMENT_VARIABLE, "")


@dataclass(frozen=True)
class GoAway:
    """The server's last word on a connection."""

    reason: str
    last_stream_id: int

    @classmethod
    def from_frame(cls, frame: Frame) -> "GoAway":
        message = pb.GoAway()
        message.ParseFromString(frame.payload)
        return cls(message.reason, message.last_stream_id)


_ROLE_NAMES = {pb.KEY_ROLE_ADMIN: "admin", pb.KEY_ROLE_INGEST: "ingest", pb.KEY_ROLE_READ: "read"}


def read_handshake_reply(frame: Frame, address: str) -> ConnectionInfo:
    """Return the HandshakeAck's limits, or raise ConnectionError for a GOAWAY or anything else."""
    if frame.frame_type == FrameType.HANDSHAKE_ACK:
        ack = pb.HandshakeAck()
        ack.ParseFromString(frame.payload)
        return ConnectionInfo(ack.protocol_version, ack.server_version, ack.max_frame_bytes,
                              ack.max_batch_events, ack.max_in_flight, ack.tenant_id,
                              _ROLE_NAMES.get(ack.role, ""), ack.principal, ack.server_streams)
    if frame.frame_type == FrameType.GOAWAY:
        goaway = GoAway.from_frame(frame)
        if frame.code != 0:
            # A refused credential: UNAUTHENTICATED or PERMISSION_DENIED in the header's code.
            raise errors.error_for_status(frame.code, f"{address} refused the handshake: {goaway.reason}")
        raise errors.ConnectionError(f"{address} refused the handshake: {goaway.reason}")
    raise errors.ProtocolError(f"{address} answered the handshake with frame type {frame.frame_type}")


def response_payload(frame: Frame) -> bytes:
    """The payload of an OK RESPONSE; for any other status raise the matching MeterError."""
    if frame.code == 0:
        return frame.payload
    detail = pb.ErrorDetail()
    try:
        detail.ParseFromString(frame.payload)
    except Exception:  # noqa: BLE001 - a garbled detail still has its status code
        detail = pb.ErrorDetail(code=frame.code)
    raise errors.error_for_status(frame.code, detail.message, detail.reason)


def not_processed_error(goaway: GoAway) -> errors.Unavailable:
    """The error of a request the server did not accept before its GOAWAY (safe to retry)."""
    return errors.Unavailable(
        f"server closed the connection before processing the request ({goaway.reason}); "
        "it is safe to retry on a new connection")
