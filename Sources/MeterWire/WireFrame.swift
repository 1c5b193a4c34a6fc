import NIOCore

/// One frame of the meterd protocol (docs/protocol.md): a 12-byte big-endian header —
/// payload length u32, type u8, flags u8, code u16 (method id on requests, status on
/// responses), stream id u32 — followed by a protobuf payload.
public struct WireFrame: Sendable, Equatable {
    public var type: FrameType
    public var flags: UInt8
    /// Method id on a REQUEST, status code on a RESPONSE, 0 otherwise.
    public var code: UInt16
    /// Chosen by the client for REQUEST and PING, echoed on RESPONSE and PONG; 0 otherwise.
    public var streamId: UInt32
    public var payload: ByteBuffer

    public static let headerLength = 12

    public init(type: FrameType, flags: UInt8 = 0, code: UInt16 = 0, streamId: UInt32 = 0, payload: ByteBuffer) {
        self.type = type
        self.flags = flags
        self.code = code
        self.streamId = streamId
        self.payload = payload
    }
}

/// The kinds of frame. Raw values are the wire numbers.
public enum FrameType: UInt8, Sendable {
    case request = 1
    case response = 2
    case handshake = 3
    case handshakeAck = 4
    case ping = 5
    case pong = 6
    case goAway = 7
    /// One message of a server stream (WatchNotifications): sent by the server zero or more
    /// times on an open streaming REQUEST's stream id, before the RESPONSE that ends the stream.
    case message = 8
    /// Sent by a client to end one of its open server streams; the server answers with the
    /// stream's final RESPONSE (CANCELLED). Ignored for any other stream id.
    case cancel = 9

    /// The name docs/protocol.md uses, for GOAWAY reasons and errors.
    public var name: String {
        switch self {
        case .request: return "REQUEST"
        case .response: return "RESPONSE"
        case .handshake: return "HANDSHAKE"
        case .handshakeAck: return "HANDSHAKE_ACK"
        case .ping: return "PING"
        case .pong: return "PONG"
        case .goAway: return "GOAWAY"
        case .message: return "MESSAGE"
        case .cancel: return "CANCEL"
        }
    }

    /// Frame types only a server sends; a client sending one breaks the protocol.
    public var isServerOnly: Bool {
        switch self {
        case .response, .handshakeAck, .pong, .goAway, .message: return true
        case .request, .handshake, .ping, .cancel: return false
        }
    }
}

/// The 8 bytes a client sends first: "MTRD", protocol version u16, reserved u16.
public enum WirePreface {
    public static let magic: [UInt8] = Array("MTRD".utf8)
    public static let protocolVersion: UInt16 = 1
    public static let length = 8

    public static var bytes: [UInt8] {
        magic + [UInt8(protocolVersion >> 8), UInt8(protocolVersion & 0xFF), 0, 0]
    }
}

/// Limits both sides announce in the handshake. Defaults are the documented ones.
public struct WireLimits: Sendable, Equatable {
    /// Largest frame payload accepted, in bytes. Default 4 MiB.
    public var maximumFrameBytes: Int = 4 << 20
    /// Most events in one IngestBatch. Default 10,000.
    public var maximumBatchEvents: Int = 10_000
    /// Most requests in flight on one connection. Default 64. A request stays in flight until
    /// its reply has been written to the socket, so a client that does not read cannot make the
    /// server hold more than `maximumInFlight` replies for it.
    public var maximumInFlight: Int = 64

    /// The smallest `max_frame_bytes` a client may state in its handshake (64 KiB): every
    /// acknowledgement, error reply and GOAWAY must fit, and a useful IngestBatch reply too.
    /// A smaller non-zero value is refused with a GOAWAY.
    public static let minimumFrameBytes = 64 << 10

    public init() {}
}

/// A violation of the framing; the connection cannot be resynchronised and is closed.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case badPreface
    case unsupportedVersion(UInt16)
    /// The preface's last two bytes (reserved) were not zero.
    case nonZeroPrefaceReserved(UInt16)
    case frameTooLarge(length: Int, maximum: Int)
    case unknownFrameType(UInt8)

    public var description: String {
        switch self {
        case .badPreface: return "bad preface: not a meterd client"
        case .unsupportedVersion(let version): return "unsupported protocol version \(version) (this server speaks \(WirePreface.protocolVersion))"
        case .nonZeroPrefaceReserved(let value): return "bad preface: the reserved u16 after the version must be 0, got \(value)"
        case .frameTooLarge(let length, let maximum): return "frame of \(length) bytes exceeds the limit of \(maximum)"
        case .unknownFrameType(let type): return "unknown frame type \(type)"
        }
    }
}
