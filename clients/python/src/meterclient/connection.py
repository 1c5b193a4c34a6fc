"""A blocking connection to meterd: one socket, many requests in flight, matched by stream id.

Any number of threads may share a Connection. Requests are written under a lock; whichever
thread waits for an answer reads frames for everybody and files each under its stream id, so
answers can arrive in any order. Every blocking step has a deadline (socket timeouts); partial
reads and writes are continued; EINTR is retried (Python does it too, PEP 475).
"""

from __future__ import annotations

import collections
import select
import ssl as ssl_module
import socket
import threading
import time

from . import errors
from .address import Address
from .handshake import GoAway, not_processed_error, opening_bytes, read_handshake_reply, response_payload
from .models import ConnectionInfo
from .wire import DEFAULT_MAX_FRAME_BYTES, Frame, FrameDecoder, FrameType, StreamIdAllocator, encode_frame

_RECEIVE_SIZE = 65536


class Connection:
    """An open, handshaken connection. Use :meth:`open` to make one."""

    def __init__(self, sock: socket.socket, address: Address, info: ConnectionInfo,
                 decoder: FrameDecoder) -> None:
        self.address = address
        self.info = info
        self._socket = sock
        self._decoder = decoder
        self._stream_ids = StreamIdAllocator()
        self._write_lock = threading.Lock()
        # Threads beyond the server's in-flight limit wait here instead of getting
        # RESOURCE_EXHAUSTED from the server (raw send_request calls are not limited).
        self._in_flight = threading.BoundedSemaphore(max(1, info.max_in_flight or 64))
        self._state = threading.Condition()
        self._waiting: set[int] = set()          # stream ids whose answer someone will collect
        self._answers: dict[int, Frame] = {}      # answers not yet collected
        self._abandoned: set[int] = set()          # timed-out stream ids: drop their answers
        self._messages: dict[int, collections.deque] = {}  # open server streams: MESSAGE payloads
        self._reading = False
        self._goaway: GoAway | None = None
        self._failure: errors.MeterError | None = None

    # ------------------------------------------------------------------------------------------
    # Opening and closing
    # ------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, address: Address, *, tenant: str = "default", timeout: float = 10.0,
             credential: str = "", ssl: "ssl_module.SSLContext | None" = None,
             max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> "Connection":
        """Connect, send the preface and handshake, and wait for the acknowledgement."""
        deadline = time.monotonic() + timeout
        try:
            if address.is_unix:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(timeout)
                    sock.connect(address.unix_path)
                except OSError:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection((address.host, address.port), timeout=timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if ssl is not None:
                    # TLS (docs/security.md): the certificate is checked against the host name,
                    # or for an IP address against the certificate's IP addresses.
                    try:
                        sock = ssl.wrap_socket(sock, server_hostname=address.host)
                    except BaseException:
                        sock.close()
                        raise
        except OSError as error:
            raise errors.ConnectionError(f"cannot connect to {address}: {error}") from error
        decoder = FrameDecoder(max_frame_bytes)
        try:
            _send_all(sock, opening_bytes(tenant, credential=credential,
                                          max_frame_bytes=max_frame_bytes), deadline, address)
            frame = None
            while frame is None:
                frame = decoder.next_frame()
                if frame is None:
                    _receive_into(sock, decoder, deadline, address)
            info = read_handshake_reply(frame, str(address))
        except errors.DeadlineExceeded as error:
            sock.close()
            raise errors.ConnectionError(f"{address} did not answer the handshake in time") from error
        except BaseException:
            sock.close()
            raise
        return cls(sock, address, info, decoder)

    def close(self) -> None:
        """Close the socket; requests still waiting get ConnectionError."""
        with self._state:
            if self._failure is None:
                self._failure = errors.ConnectionError(f"connection to {self.address} was closed")
            self._state.notify_all()
        try:
            self._socket.close()
        except OSError:
            pass

    @property
    def usable(self) -> bool:
        """False once the connection broke, was closed or got a GOAWAY."""
        return self._failure is None and self._goaway is None

    def check_idle(self) -> bool:
        """On an idle connection, take in whatever the server sent unasked (a GOAWAY, or the
        end of the stream after a restart) without blocking; return :attr:`usable`."""
        with self._state:
            if not self.usable or self._waiting or self._reading:
                return self.usable
            self._reading = True
        try:
            readable, _, _ = select.select([self._socket], [], [], 0)
            pending = getattr(self._socket, "pending", None)
            if readable or (pending is not None and pending() > 0):
                self._read_some(time.monotonic() + 0.05)
        except (OSError, ValueError):
            self._fail(errors.ConnectionError(f"connection to {self.address} broke"))
        finally:
            with self._state:
                self._reading = False
                self._state.notify_all()
        return self.usable

    # ------------------------------------------------------------------------------------------
    # Requests
    # ------------------------------------------------------------------------------------------

    def call(self, method: int, payload: bytes, timeout: float) -> bytes:
        """Send one request and wait for its OK payload (or raise its error)."""
        deadline = time.monotonic() + timeout
        self._acquire_slot(timeout)
        try:
            stream_id = self.send_request(method, payload, deadline)
            return self.receive_response(stream_id, deadline)
        finally:
            self._in_flight.release()

    def _acquire_slot(self, timeout: float) -> None:
        """Take one of the connection's in-flight slots, waiting at most ``timeout``."""
        if not self._in_flight.acquire(timeout=timeout):
            raise errors.DeadlineExceeded(f"timed out waiting for a free request slot on {self.address}")

    def send_request(self, method: int, payload: bytes, deadline: float) -> int:
        """Write a REQUEST frame and return its stream id; collect the answer with
        :meth:`receive_response`. Several requests may be sent before any answer is read."""
        if len(payload) > self.info.max_frame_bytes:
            raise errors.InvalidArgument(
                f"request of {len(payload)} bytes exceeds the server's frame limit "
                f"of {self.info.max_frame_bytes}")
        with self._state:
            self._raise_if_unusable()
            stream_id = self._stream_ids.allocate(self._in_use())
            self._waiting.add(stream_id)
        self._write_request(method, payload, stream_id, deadline)
        return stream_id

    def receive_response(self, stream_id: int, deadline: float) -> bytes:
        """Wait for the RESPONSE of ``stream_id`` and return its OK payload."""
        frame = self._wait_for(stream_id, deadline)
        return response_payload(frame)

    def ping(self, payload: bytes = b"\0" * 8, timeout: float = 10.0) -> float:
        """Send a PING, wait for its PONG, and return the round trip in seconds."""
        if len(payload) != 8:
            raise ValueError("a PING payload is exactly 8 bytes")
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        with self._state:
            self._raise_if_unusable()
            stream_id = self._stream_ids.allocate(self._in_use())
            self._waiting.add(stream_id)
        with self._write_lock:
            _send_all(self._socket, encode_frame(FrameType.PING, payload, stream_id=stream_id),
                      deadline, self.address)
        frame = self._wait_for(stream_id, deadline)
        if frame.payload != payload:
            raise errors.ProtocolError("PONG payload differs from the PING's")
        return time.monotonic() - started

    # ------------------------------------------------------------------------------------------
    # Server streams (docs/protocol.md, "Server streams")
    # ------------------------------------------------------------------------------------------

    def open_stream(self, method: int, payload: bytes, timeout: float) -> int:
        """Send the REQUEST of a server-streaming method and return its stream id. The stream
        holds one of the connection's in-flight slots until :meth:`next_message` returns None
        (its RESPONSE arrived) or :meth:`cancel_stream` has finished."""
        deadline = time.monotonic() + timeout
        self._acquire_slot(timeout)
        try:
            with self._state:
                self._raise_if_unusable()
                stream_id = self._stream_ids.allocate(self._in_use() | self._messages.keys())
                self._messages[stream_id] = collections.deque()
            try:
                return self._send_stream_request(method, payload, stream_id, deadline)
            except BaseException:
                with self._state:
                    self._messages.pop(stream_id, None)
                raise
        except BaseException:
            self._in_flight.release()
            raise

    def _send_stream_request(self, method: int, payload: bytes, stream_id: int, deadline: float) -> int:
        with self._state:
            self._waiting.add(stream_id)
        self._write_request(method, payload, stream_id, deadline)
        return stream_id

    def _write_request(self, method: int, payload: bytes, stream_id: int, deadline: float) -> None:
        """Write the REQUEST frame of ``stream_id`` under the write lock."""
        frame = encode_frame(FrameType.REQUEST, payload, code=method, stream_id=stream_id)
        try:
            with self._write_lock:
                _send_all(self._socket, frame, deadline, self.address)
        except errors.MeterError as error:
            # A partly written frame leaves the byte stream unusable.
            self._fail(error)
            raise

    def next_message(self, stream_id: int, deadline: float) -> bytes | None:
        """The next MESSAGE payload of an open stream, or None once its RESPONSE ended it with
        OK or CANCELLED (another status raises its error). Raises DeadlineExceeded when nothing
        came before ``deadline``; the stream stays open, so the caller may wait again."""
        def settle():
            queue = self._messages.get(stream_id)
            if queue:
                return True, queue.popleft()
            if stream_id in self._answers:
                return True, self._end_stream(stream_id, self._answers.pop(stream_id))
            if self._failure is not None or self._goaway_without_answer(stream_id):
                self._forget_stream(stream_id)
                if self._failure is None:
                    raise not_processed_error(self._goaway)
                raise self._failure
            return False, None

        def timed_out():
            return errors.DeadlineExceeded(f"no message from {self.address} in time (stream {stream_id})")

        return self._read_until(deadline, settle, timed_out)

    def cancel_stream(self, stream_id: int, timeout: float = 10.0) -> None:
        """Send CANCEL and wait (dropping messages) for the stream's final RESPONSE. A stream
        that already ended is left alone."""
        with self._state:
            if stream_id not in self._messages:
                return
        deadline = time.monotonic() + timeout
        try:
            # An older server does not know CANCEL (it would close the connection); it answers
            # the streaming method UNIMPLEMENTED at once, so waiting for that is enough.
            if self.info.server_streams:
                with self._write_lock:
                    _send_all(self._socket, encode_frame(FrameType.CANCEL, stream_id=stream_id), deadline, self.address)
            while self.next_message(stream_id, deadline) is not None:
                pass
        except errors.MeterError:
            with self._state:
                if stream_id in self._messages:
                    self._forget_stream(stream_id)
                    self._abandoned.add(stream_id)

    def _goaway_without_answer(self, stream_id: int) -> bool:
        return self._goaway is not None and stream_id > self._goaway.last_stream_id

    def _end_stream(self, stream_id: int, frame: Frame) -> None:
        self._forget_stream(stream_id)
        if frame.code == 1:  # CANCELLED: the end this client asked for
            return None
        response_payload(frame)  # raises the error of any other status
        return None

    def _forget_stream(self, stream_id: int) -> None:
        """Called with the state lock held: the stream is over for this client."""
        if self._messages.pop(stream_id, None) is not None:
            self._waiting.discard(stream_id)
            self._in_flight.release()

    # ------------------------------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------------------------------

    def _in_use(self):
        return self._waiting | self._answers.keys() | self._abandoned

    def _raise_if_unusable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._goaway is not None:
            raise not_processed_error(self._goaway)

    def _wait_for(self, stream_id: int, deadline: float) -> Frame:
        def settle():
            if stream_id in self._answers:
                self._waiting.discard(stream_id)
                return True, self._answers.pop(stream_id)
            if self._failure is not None:
                self._waiting.discard(stream_id)
                if self._goaway is not None and stream_id > self._goaway.last_stream_id:
                    raise not_processed_error(self._goaway)
                raise self._failure
            return False, None

        def timed_out():
            self._give_up(stream_id)
            return errors.DeadlineExceeded(
                f"no answer from {self.address} in time (stream {stream_id}); "
                "the request may still run")

        return self._read_until(deadline, settle, timed_out)

    def _read_until(self, deadline: float, settle, timed_out):
        """Wait until ``settle()`` says the wait is over, reading for everybody meanwhile.

        ``settle`` and ``timed_out`` are called with the state lock held. ``settle`` returns
        ``(True, value)`` to return ``value``, ``(False, None)`` to keep waiting, or raises;
        ``timed_out`` returns the error raised once ``deadline`` passed. One thread at a time
        reads the socket and files every frame it gets; the others wait on the condition.
        """
        while True:
            with self._state:
                while True:
                    done, value = settle()
                    if done:
                        return value
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise timed_out()
                    if not self._reading:
                        self._reading = True
                        break
                    self._state.wait(remaining)
            # This thread reads for everybody until what it waits for arrives or time runs out.
            try:
                self._read_some(deadline)
            finally:
                with self._state:
                    self._reading = False
                    self._state.notify_all()

    def _give_up(self, stream_id: int) -> None:
        self._waiting.discard(stream_id)
        self._abandoned.add(stream_id)

    def _read_some(self, deadline: float) -> None:
        """Read from the socket once and file every complete frame."""
        try:
            _receive_into(self._socket, self._decoder, deadline, self.address)
            frames = self._decoder.frames()
        except errors.DeadlineExceeded:
            return
        except errors.MeterError as error:
            self._fail(error)
            return
        with self._state:
            for frame in frames:
                self._file(frame)

    def _file(self, frame: Frame) -> None:
        if frame.frame_type == FrameType.GOAWAY:
            self._goaway = GoAway.from_frame(frame)
            return
        if frame.frame_type == FrameType.MESSAGE:
            queue = self._messages.get(frame.stream_id)
            if queue is not None:
                queue.append(frame.payload)
            elif frame.stream_id not in self._abandoned:
                self._failure = errors.ProtocolError(
                    f"stream message for unknown stream {frame.stream_id} from {self.address}")
            return
        if frame.frame_type not in (FrameType.RESPONSE, FrameType.PONG):
            self._failure = errors.ProtocolError(
                f"unexpected frame type {frame.frame_type} from {self.address}")
            return
        if frame.stream_id in self._abandoned:
            self._abandoned.discard(frame.stream_id)
            return
        if frame.stream_id not in self._waiting:
            self._failure = errors.ProtocolError(
                f"answer for unknown stream {frame.stream_id} from {self.address}")
            return
        self._answers[frame.stream_id] = frame

    def _fail(self, error: errors.MeterError) -> None:
        with self._state:
            if self._failure is None:
                if self._goaway is not None and isinstance(error, errors.ConnectionError):
                    error = errors.ConnectionError(
                        f"{self.address} closed the connection: {self._goaway.reason}")
                self._failure = error
            self._state.notify_all()


def _send_all(sock: socket.socket, data: bytes, deadline: float, address: Address) -> None:
    """Write every byte before the deadline, continuing after partial writes."""
    view = memoryview(data)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.DeadlineExceeded(f"timed out writing to {address}")
        try:
            sock.settimeout(remaining)
            sent = sock.send(view)
        except InterruptedError:
            continue
        except socket.timeout as error:
            raise errors.DeadlineExceeded(f"timed out writing to {address}") from error
        except OSError as error:
            raise errors.ConnectionError(f"writing to {address} failed: {error}") from error
        view = view[sent:]


def _receive_into(sock: socket.socket, decoder: FrameDecoder, deadline: float,
                  address: Address) -> None:
    """Read what is available (at least one byte) before the deadline into the decoder."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.DeadlineExceeded(f"timed out reading from {address}")
        try:
            sock.settimeout(remaining)
            data = sock.recv(_RECEIVE_SIZE)
        except InterruptedError:
            continue
        except socket.timeout as error:
            raise errors.DeadlineExceeded(f"timed out reading from {address}") from error
        except OSError as error:
            raise errors.ConnectionError(f"reading from {address} failed: {error}") from error
        if not data:
            raise errors.ConnectionError(f"{address} closed the connection")
        decoder.feed(data)
        return
