"""An asyncio connection to meterd: one stream, many concurrent requests matched by stream id.

A single reader task takes every frame off the stream and resolves the future waiting for its
stream id, so answers may arrive in any order.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module

from . import errors
from .address import Address
from .handshake import GoAway, not_processed_error, opening_bytes, read_handshake_reply, response_payload
from .models import ConnectionInfo
from .wire import (DEFAULT_MAX_FRAME_BYTES, HEADER_SIZE, Frame, FrameDecoder, FrameType,
                   StreamIdAllocator, encode_frame)


class AsyncConnection:
    """An open, handshaken asyncio connection. Use :meth:`open` to make one."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 address: Address, info: ConnectionInfo, decoder: FrameDecoder) -> None:
        self.address = address
        self.info = info
        self._reader = reader
        self._writer = writer
        self._decoder = decoder
        self._stream_ids = StreamIdAllocator()
        self._pending: dict[int, asyncio.Future] = {}
        self._messages: dict[int, asyncio.Queue] = {}  # open server streams: MESSAGE payloads
        self._write_lock = asyncio.Lock()
        # Callers beyond the server's in-flight limit wait here instead of getting
        # RESOURCE_EXHAUSTED from the server.
        self._in_flight = asyncio.Semaphore(max(1, info.max_in_flight or 64))
        self._goaway: GoAway | None = None
        self._failure: errors.MeterError | None = None
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, address: Address, *, tenant: str = "default", timeout: float = 10.0,
                   credential: str = "", ssl: "ssl_module.SSLContext | None" = None,
                   max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> "AsyncConnection":
        """Connect, send the preface and handshake, and wait for the acknowledgement."""
        try:
            async with asyncio.timeout(timeout):
                if address.is_unix:
                    reader, writer = await asyncio.open_unix_connection(address.unix_path)
                else:
                    reader, writer = await asyncio.open_connection(address.host, address.port, ssl=ssl)
        except TimeoutError as error:
            raise errors.ConnectionError(f"timed out connecting to {address}") from error
        except OSError as error:
            raise errors.ConnectionError(f"cannot connect to {address}: {error}") from error
        decoder = FrameDecoder(max_frame_bytes)
        try:
            async with asyncio.timeout(timeout):
                writer.write(opening_bytes(tenant, credential=credential,
                                           max_frame_bytes=max_frame_bytes))
                await writer.drain()
                frame = await _read_frame(reader, decoder)
            info = read_handshake_reply(frame, str(address))
        except errors.MeterError:
            writer.close()
            raise
        except TimeoutError as error:
            writer.close()
            raise errors.ConnectionError(f"{address} did not answer the handshake in time") from error
        except (OSError, asyncio.IncompleteReadError) as error:
            writer.close()
            raise errors.ConnectionError(f"handshake with {address} failed: {error}") from error
        except BaseException:
            writer.close()
            raise
        return cls(reader, writer, address, info, decoder)

    @property
    def usable(self) -> bool:
        """False once the connection broke, was closed or got a GOAWAY."""
        return self._failure is None and self._goaway is None

    async def close(self) -> None:
        """Close the stream; requests still waiting get ConnectionError."""
        self._fail(errors.ConnectionError(f"connection to {self.address} was closed"))
        self._reader_task.cancel()
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (OSError, asyncio.CancelledError):
            pass

    async def call(self, method: int, payload: bytes, timeout: float) -> bytes:
        """Send one request and wait for its OK payload (or raise its error)."""
        frame = await self._exchange(FrameType.REQUEST, method, payload, timeout)
        return response_payload(frame)

    async def ping(self, payload: bytes = b"\0" * 8, timeout: float = 10.0) -> None:
        """Send a PING and wait for its PONG."""
        frame = await self._exchange(FrameType.PING, 0, payload, timeout)
        if frame.payload != payload:
            raise errors.ProtocolError("PONG payload differs from the PING's")

    async def open_stream(self, method: int, payload: bytes, timeout: float) -> "AsyncServerStream":
        """Send the REQUEST of a server-streaming method (docs/protocol.md, "Server streams").
        The stream holds one in-flight slot until it has ended (see AsyncServerStream)."""
        await self._acquire_slot(timeout)
        try:
            if self._failure is not None:
                raise self._failure
            if self._goaway is not None:
                raise not_processed_error(self._goaway)
            stream_id = self._stream_ids.allocate(self._pending)
            future = asyncio.get_running_loop().create_future()
            queue: asyncio.Queue = asyncio.Queue()
            self._pending[stream_id] = future
            self._messages[stream_id] = queue
            try:
                async with asyncio.timeout(timeout):
                    async with self._write_lock:
                        self._writer.write(encode_frame(FrameType.REQUEST, payload, code=method, stream_id=stream_id))
                        await self._writer.drain()
            except (OSError, RuntimeError, TimeoutError) as error:
                self._fail(errors.ConnectionError(f"writing to {self.address} failed: {error}"))
                raise self._failure from error
        except BaseException:
            self._in_flight.release()
            raise
        return AsyncServerStream(self, stream_id, future, queue)

    async def _acquire_slot(self, timeout: float) -> None:
        """Take one of the connection's in-flight slots, waiting at most ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                await self._in_flight.acquire()
        except TimeoutError as error:
            raise errors.DeadlineExceeded(
                f"timed out waiting for a free request slot on {self.address}") from error

    async def _send_cancel(self, stream_id: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            async with self._write_lock:
                self._writer.write(encode_frame(FrameType.CANCEL, stream_id=stream_id))
                await self._writer.drain()

    def _end_stream(self, stream_id: int) -> None:
        if self._messages.pop(stream_id, None) is not None:
            self._pending.pop(stream_id, None)
            self._in_flight.release()

    async def _exchange(self, frame_type: int, code: int, payload: bytes, timeout: float) -> Frame:
        await self._acquire_slot(timeout)
        try:
            return await self._send_and_wait(frame_type, code, payload, timeout)
        finally:
            self._in_flight.release()

    async def _send_and_wait(self, frame_type: int, code: int, payload: bytes,
                             timeout: float) -> Frame:
        if len(payload) > self.info.max_frame_bytes:
            raise errors.InvalidArgument(
                f"request of {len(payload)} bytes exceeds the server's frame limit "
                f"of {self.info.max_frame_bytes}")
        if self._failure is not None:
            raise self._failure
        if self._goaway is not None:
            raise not_processed_error(self._goaway)
        stream_id = self._stream_ids.allocate(self._pending)
        future = asyncio.get_running_loop().create_future()
        self._pending[stream_id] = future
        data = encode_frame(frame_type, payload, code=code, stream_id=stream_id)
        try:
            async with asyncio.timeout(timeout):
                async with self._write_lock:
                    self._writer.write(data)
                    await self._writer.drain()
                return await future
        except errors.MeterError:
            raise
        except TimeoutError as error:
            raise errors.DeadlineExceeded(
                f"no answer from {self.address} in time (stream {stream_id}); "
                "the request may still run") from error
        except (OSError, RuntimeError) as error:
            self._fail(errors.ConnectionError(f"writing to {self.address} failed: {error}"))
            raise self._failure from error
        finally:
            # The id stays reserved if its answer may still come (timeout): the reader drops it.
            if future.done():
                self._pending.pop(stream_id, None)
                if not future.cancelled():
                    future.exception()  # mark it retrieved: the error went to the caller
            else:
                future.cancel()

    async def _read_loop(self) -> None:
        try:
            while True:
                frame = await _read_frame(self._reader, self._decoder)
                self._file(frame)
        except asyncio.CancelledError:
            raise
        except asyncio.IncompleteReadError:
            reason = f": {self._goaway.reason}" if self._goaway else ""
            self._fail(errors.ConnectionError(f"{self.address} closed the connection{reason}"))
        except errors.MeterError as error:
            self._fail(error)
        except OSError as error:
            self._fail(errors.ConnectionError(f"reading from {self.address} failed: {error}"))

    def _file(self, frame: Frame) -> None:
        if frame.frame_type == FrameType.GOAWAY:
            self._goaway = GoAway.from_frame(frame)
            for stream_id, future in list(self._pending.items()):
                if stream_id > self._goaway.last_stream_id and not future.done():
                    future.set_exception(not_processed_error(self._goaway))
            return
        if frame.frame_type == FrameType.MESSAGE:
            queue = self._messages.get(frame.stream_id)
            if queue is None:
                raise errors.ProtocolError(f"stream message for unknown stream {frame.stream_id} from {self.address}")
            queue.put_nowait(frame.payload)
            return
        if frame.frame_type not in (FrameType.RESPONSE, FrameType.PONG):
            raise errors.ProtocolError(f"unexpected frame type {frame.frame_type} from {self.address}")
        future = self._pending.pop(frame.stream_id, None)
        if future is None:
            raise errors.ProtocolError(f"answer for unknown stream {frame.stream_id} from {self.address}")
        if not future.done():
            future.set_result(frame)

    def _fail(self, error: errors.MeterError) -> None:
        if self._failure is None:
            self._failure = error
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self._failure)
        self._pending.clear()


class AsyncServerStream:
    """One open server stream of an AsyncConnection: its MESSAGE payloads in order, then its end."""

    def __init__(self, connection: AsyncConnection, stream_id: int, future: asyncio.Future,
                 queue: asyncio.Queue) -> None:
        self._connection = connection
        self.stream_id = stream_id
        self._future = future
        self._queue = queue
        self._cancelled = False
        self._ended = False

    @property
    def ended(self) -> bool:
        return self._ended

    async def next(self, wait: float | None = None) -> bytes | None:
        """The next MESSAGE payload, or None once the stream ended OK (or CANCELLED after
        :meth:`cancel`); another status raises its error. DeadlineExceeded after ``wait`` seconds
        without a message (the stream stays open)."""
        while True:
            if not self._queue.empty():
                return self._queue.get_nowait()
            if self._future.done():
                return self._finish()
            getter = asyncio.ensure_future(self._queue.get())
            done, _ = await asyncio.wait({getter, self._future}, timeout=wait,
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                return getter.result()
            getter.cancel()
            if not done:
                raise errors.DeadlineExceeded(f"no message from {self._connection.address} in time "
                                              f"(stream {self.stream_id})")

    def _finish(self) -> None:
        self._ended = True
        self._connection._end_stream(self.stream_id)
        frame = self._future.result()  # raises the connection's failure
        if frame.code == 0 or (self._cancelled and frame.code == 1):
            return None
        response_payload(frame)  # raises the status's error
        return None

    async def cancel(self, timeout: float = 10.0) -> None:
        """Send CANCEL (when the server speaks streams) and wait for the stream's end, dropping
        messages still on their way. A stream that has ended is left alone."""
        if self._ended:
            return
        self._cancelled = True
        try:
            if self._connection.info.server_streams:
                await self._connection._send_cancel(self.stream_id, timeout)
            async with asyncio.timeout(timeout):
                while await self.next() is not None:
                    pass
        except (errors.MeterError, TimeoutError, OSError):
            if not self._ended:
                self._ended = True
                self._connection._end_stream(self.stream_id)


async def _read_frame(reader: asyncio.StreamReader, decoder: FrameDecoder) -> Frame:
    """Read exactly one frame (header, then its payload)."""
    while True:
        frame = decoder.next_frame()
        if frame is not None:
            return frame
        needed = HEADER_SIZE
        if decoder.buffered >= HEADER_SIZE:
            needed = 1  # the header is in; next_frame already checked the length
        data = await reader.read(max(needed, 65536))
        if not data:
            raise asyncio.IncompleteReadError(b"", needed)
        decoder.feed(data)
