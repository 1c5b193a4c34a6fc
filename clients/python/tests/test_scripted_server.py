"""The clients against a scripted fake server: out-of-order answers, GOAWAY with
last_stream_id, timeouts, and frames split into single bytes (partial reads)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

import meterclient
from meterclient import AsyncClient, Client, DeadlineExceeded, Unavailable
from meterclient.proto import meterd_pb2 as pb
from meterclient.wire import PREFACE, FrameDecoder, FrameType, encode_frame


class ScriptedServer:
    """Listens on a Unix socket; for each connection it answers the handshake, then runs
    ``script(connection, read_frame)`` in a thread."""

    def __init__(self, path: str, script, *, answer_handshake: bool = True) -> None:
        self.path = path
        self.script = script
        self.answer_handshake = answer_handshake
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
            with connection:
                decoder = FrameDecoder()
                buffer = b""
                while len(buffer) < len(PREFACE):
                    buffer += connection.recv(64)
                assert buffer[:8] == PREFACE
                decoder.feed(buffer[8:])

                def read_frame():
                    while (frame := decoder.next_frame()) is None:
                        data = connection.recv(65536)
                        if not data:
                            raise EOFError
                        decoder.feed(data)
                    return frame

                assert read_frame().frame_type == FrameType.HANDSHAKE
                if not self.answer_handshake:
                    wait_for_close(connection)
                    return
                ack = pb.HandshakeAck(protocol_version=1, server_version="scripted",
                                      max_frame_bytes=4194304, max_batch_events=10000,
                                      max_in_flight=64, tenant_id="default")
                connection.sendall(encode_frame(FrameType.HANDSHAKE_ACK, ack.SerializeToString()))
                self.script(connection, read_frame)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.errors.append(error)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


def wait_for_close(connection) -> None:
    """Holds the connection open, reading and dropping what comes, until the client closes it."""
    while connection.recv(65536):
        pass


def health_response(stream_id: int, message: str) -> bytes:
    payload = pb.HealthCheckResponse(status=1, message=message).SerializeToString()
    return encode_frame(FrameType.RESPONSE, payload, stream_id=stream_id)


@pytest.fixture
def socket_path(tmp_path):
    return str(tmp_path / "fake.sock")


def test_answers_in_reverse_order_and_split_into_single_bytes(socket_path):
    def script(connection, read_frame):
        first, second = read_frame(), read_frame()
        data = health_response(second.stream_id, "second") + health_response(first.stream_id, "first")
        for index in range(len(data)):
            connection.sendall(data[index:index + 1])
        wait_for_close(connection)

    server = ScriptedServer(socket_path, script)
    with Client.connect(socket_path, timeout=5) as client:
        connection = client._current_connection()
        deadline = time.monotonic() + 5
        first = connection.send_request(48, b"", deadline)
        second = connection.send_request(48, b"", deadline)
        assert pb.HealthCheckResponse.FromString(
            connection.receive_response(first, deadline)).message == "first"
        assert pb.HealthCheckResponse.FromString(
            connection.receive_response(second, deadline)).message == "second"
    server.close()
    assert not server.errors


def test_threads_share_one_blocking_client(socket_path):
    def script(connection, read_frame):
        # Answer the 40 requests of 8 threads (at most 8 outstanding), pairs in reverse order.
        # Hold a request only among the first 24: by then at most 4 threads can be done, so
        # another thread always sends the frame that releases it (no wait on the client timeout).
        held = None
        for index in range(40):
            frame = read_frame()
            if held is None and index < 24 and frame.stream_id % 3:
                held = frame
                continue
            answers = [frame] + ([held] if held else [])
            held = None
            connection.sendall(b"".join(health_response(item.stream_id, "ok") for item in answers))
        if held is not None:
            connection.sendall(health_response(held.stream_id, "ok"))
        wait_for_close(connection)

    server = ScriptedServer(socket_path, script)
    with Client.connect(socket_path, timeout=5) as client:
        results = []
        threads = [threading.Thread(target=lambda: results.extend(client.health() for _ in range(5)))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len(results) == 40 and all(result.serving for result in results)
    server.close()
    assert not server.errors


def test_goaway_answers_accepted_streams_and_fails_later_ones_retryably(socket_path):
    def script(connection, read_frame):
        first = read_frame()
        read_frame()  # the second request arrives after the server stopped accepting
        goaway = pb.GoAway(reason="server shutting down", last_stream_id=first.stream_id)
        connection.sendall(encode_frame(FrameType.GOAWAY, goaway.SerializeToString())
                           + health_response(first.stream_id, "first"))

    server = ScriptedServer(socket_path, script)
    with Client.connect(socket_path, timeout=5) as client:
        connection = client._current_connection()
        deadline = time.monotonic() + 5
        first = connection.send_request(48, b"", deadline)
        second = connection.send_request(48, b"", deadline)
        assert pb.HealthCheckResponse.FromString(
            connection.receive_response(first, deadline)).message == "first"
        with pytest.raises(Unavailable) as caught:
            connection.receive_response(second, deadline)
        assert caught.value.retryable and "shutting down" in caught.value.message
        assert not connection.usable
    server.close()


def test_call_timeout_is_deadline_exceeded(socket_path):
    server = ScriptedServer(socket_path, lambda connection, read_frame: wait_for_close(connection))
    with Client.connect(socket_path, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            client.health()
        assert time.monotonic() - started < 1.5
    server.close()


def test_handshake_timeout_is_a_connection_error(socket_path):
    server = ScriptedServer(socket_path, None, answer_handshake=False)
    with pytest.raises(meterclient.ConnectionError, match="handshake"):
        Client.connect(socket_path, timeout=0.3)
    server.close()


def test_async_answers_out_of_order_and_goaway(socket_path):
    arrived = [threading.Event() for _ in range(3)]

    def script(connection, read_frame):
        frames = []
        for event in arrived:
            frames.append(read_frame())
            event.set()
        last = frames[1].stream_id
        goaway = pb.GoAway(reason="bye", last_stream_id=last)
        connection.sendall(health_response(frames[1].stream_id, "b")
                           + encode_frame(FrameType.GOAWAY, goaway.SerializeToString())
                           + health_response(frames[0].stream_id, "a"))

    server = ScriptedServer(socket_path, script)

    async def scenario():
        client = await AsyncClient.connect(socket_path, timeout=5)
        try:
            tasks = []
            for event in arrived:
                # The next request is made only once the server has read this one, so the
                # three arrive in task order.
                tasks.append(asyncio.create_task(client.health()))
                assert await asyncio.to_thread(event.wait, 5), "the server did not receive the request"
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert [result.message for result in results[:2]] == ["a", "b"]
            assert isinstance(results[2], Unavailable) and results[2].retryable
        finally:
            await client.close()

    asyncio.run(scenario())
    server.close()
    assert not server.errors


def test_async_call_timeout(socket_path):
    server = ScriptedServer(socket_path, lambda connection, read_frame: wait_for_close(connection))

    async def scenario():
        async with await AsyncClient.connect(socket_path, timeout=0.3) as client:
            with pytest.raises(DeadlineExceeded):
                await client.health()

    asyncio.run(scenario())
    server.close()
