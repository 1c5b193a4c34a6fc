import MeterWire

/// The header rules of docs/protocol.md ("Protocol errors") that a client's frame must keep,
/// checked before the frame is acted on. A broken rule is a protocol error: the connection
/// answers with a GOAWAY naming it and closes.
///
/// Kept apart from `ConnectionHandler` so that every rule is in one table-like place and the
/// handler only decides what to do with a frame that passed.
enum ClientFrameRules {
    /// Why `frame` breaks the protocol, or nil when it is acceptable. `handshakeDone` says
    /// whether the connection's HANDSHAKE has already been accepted.
    static func violation(of frame: WireFrame, handshakeDone: Bool) -> String? {
        if frame.flags != 0 {
            return "frame flags must be 0, got \(frame.flags) on a \(frame.type.name) frame"
        }
        if frame.type.isServerOnly {
            return "\(frame.type.name) is a server-only frame type; a client must not send it"
        }
        switch frame.type {
        case .handshake:
            if handshakeDone { return "a second HANDSHAKE on the connection" }
            if frame.streamId != 0 || frame.code != 0 {
                return "a HANDSHAKE needs stream id 0 and code 0, got stream id \(frame.streamId) and code \(frame.code)"
            }
        case .request, .ping:
            if !handshakeDone { return "the first frame must be a HANDSHAKE, got \(frame.type.name)" }
            if frame.streamId == 0 { return "a \(frame.type.name) needs a non-zero stream id" }
            if frame.type == .ping {
                if frame.code != 0 { return "a PING needs code 0, got \(frame.code)" }
                if frame.payload.readableBytes != 8 {
                    return "a PING needs an 8-byte payload, got \(frame.payload.readableBytes) bytes"
                }
            }
        case .cancel:
            if !handshakeDone { return "the first frame must be a HANDSHAKE, got CANCEL" }
            if frame.streamId == 0 { return "a CANCEL needs a non-zero stream id" }
            if frame.code != 0 { return "a CANCEL needs code 0, got \(frame.code)" }
            if frame.payload.readableBytes != 0 {
                return "a CANCEL needs an empty payload, got \(frame.payload.readableBytes) bytes"
            }
        case .response, .handshakeAck, .pong, .goAway, .message:
            break  // server-only, refused above
        }
        return nil
    }
}
