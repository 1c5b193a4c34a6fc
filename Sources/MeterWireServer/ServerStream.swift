import Foundation
import MeterWire
import NIOCore

/// The server's end of one open server stream (docs/protocol.md, "Server streams"), handed to a
/// streaming handler: it sends MESSAGE frames on the call's stream id and ends the stream with
/// one final RESPONSE.
///
/// Flow control is the handler's: `send` completes only once the frame has been written to the
/// socket, so a handler that awaits each send holds at most one unwritten message per stream,
/// and a client that stops reading stops the handler from producing more.
///
/// The connection asks the handler to stop (`onEnd`) when the client sends CANCEL, when the
/// connection drains for a GOAWAY, or when it closes; the handler then calls `finish` (its reply
/// is replaced by CANCELLED when the client cancelled). Thread-safe: every method may be called
/// from any thread.
public final class ServerStream: @unchecked Sendable {
    private let lock = NSLock()
    private var endRequested = false
    private var finished = false
    private var endHandlers: [@Sendable () -> Void] = []
    private let writeMessage: @Sendable (ByteBuffer, @escaping @Sendable (Bool) -> Void) -> Void
    private let finishCall: @Sendable (RPCReply) -> Void

    /// `writeMessage` writes one MESSAGE frame and calls its completion with whether it was
    /// written; `finishCall` writes the final RESPONSE. The connection supplies both.
    init(writeMessage: @escaping @Sendable (ByteBuffer, @escaping @Sendable (Bool) -> Void) -> Void,
         finishCall: @escaping @Sendable (RPCReply) -> Void) {
        self.writeMessage = writeMessage
        self.finishCall = finishCall
    }

    /// Whether the connection asked the handler to stop (cancel, drain or close).
    public var isEnding: Bool { lock.withLock { endRequested } }

    /// Sends one message; `whenWritten(true)` once it has been written to the socket, `false`
    /// when the stream is ending or the connection failed to write it (send nothing more then).
    public func send(_ payload: ByteBuffer, whenWritten: @escaping @Sendable (Bool) -> Void) {
        if lock.withLock({ endRequested || finished }) {
            whenWritten(false)
            return
        }
        writeMessage(payload, whenWritten)
    }

    /// Sends one message and returns once it has been written to the socket (true), or at once
    /// with false when the stream is ending.
    public func send(_ payload: ByteBuffer) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            send(payload) { written in continuation.resume(returning: written) }
        }
    }

    /// Ends the stream with its final RESPONSE. Calls after the first are ignored.
    public func finish(_ reply: RPCReply) {
        let first = lock.withLock { () -> Bool in
            defer { finished = true }
            return !finished
        }
        if first { finishCall(reply) }
    }

    /// Runs `body` once when the connection asks the stream to end, or at once if it already
    /// has.
    public func onEnd(_ body: @escaping @Sendable () -> Void) {
        let already = lock.withLock { () -> Bool in
            if endRequested { return true }
            endHandlers.append(body)
            return false
        }
        if already { body() }
    }

    /// Called by the connection: the client cancelled, the connection drains or it closed.
    func requestEnd() {
        let handlers = lock.withLock { () -> [@Sendable () -> Void] in
            guard !endRequested else { return [] }
            endRequested = true
            defer { endHandlers = [] }
            return endHandlers
        }
        for handler in handlers { handler() }
    }
}
