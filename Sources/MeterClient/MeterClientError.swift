import MeterWire
import NIOCore

/// Why a call (or connecting) failed.
public enum MeterClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with a non-OK status. `message` is the server's explanation, meant for
    /// people; `reason` is the meterd rejection code name ("METER_ALREADY_EXISTS", ...) or empty.
    case status(code: StatusCode, message: String, reason: String)
    /// The connection could not be made, or it was lost or closed (by either side) before the
    /// reply came. Whether the server acted on the request is unknown.
    case connection(String)
    /// No reply came before the call's deadline. Whether the server acted on it is unknown.
    case deadlineExceeded
    /// The server sent something this client cannot understand; the connection is closed.
    case protocolViolation(String)

    /// Whether sending the same request again (with the same event ids) may succeed. Retrying
    /// ingestion is always safe: the server counts an event id once.
    public var isRetryable: Bool {
        switch self {
        case .status(let code, _, _): return code.isRetryable
        case .connection, .deadlineExceeded: return true
        case .protocolViolation: return false
        }
    }

    /// The status code this error stands for: the server's for `.status`, UNAVAILABLE for a
    /// connection error, DEADLINE_EXCEEDED and INTERNAL for the others.
    public var code: StatusCode {
        switch self {
        case .status(let code, _, _): return code
        case .connection: return .unavailable
        case .deadlineExceeded: return .deadlineExceeded
        case .protocolViolation: return .internalError
        }
    }

    /// `ALREADY_EXISTS: an active meter already uses ...`: the status name and the server's
    /// message; for a connection error, what happened ("cannot connect to unix:./meterd.sock: ...").
    public var description: String {
        switch self {
        case .status(let code, let message, _):
            return message.isEmpty ? code.description : "\(code): \(message)"
        case .connection(let message):
            return message
        case .deadlineExceeded:
            return "DEADLINE_EXCEEDED: no reply from the server before the deadline"
        case .protocolViolation(let message):
            return "protocol violation: \(message)"
        }
    }

    /// Maps any error from NIO or the call machinery onto a client error.
    init(_ error: any Error) {
        switch error {
        case let error as MeterClientError:
            self = error
        case let error as WireError:
            self = .protocolViolation(error.description)
        case is CancellationError:
            self = .status(code: .cancelled, message: "the call was cancelled", reason: "")
        case let error as ChannelError:
            switch error {
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed:
                self = .connection("the connection is closed")
            case .connectTimeout(let amount):
                self = .connection("connecting timed out after \(Duration(amount))")
            default:
                self = .connection("\(error)")
            }
        case let error as IOError:
            self = .connection(error.description)
        default:
            self = .connection("\(error)")
        }
    }
}
