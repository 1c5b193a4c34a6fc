import MeterProto
import MeterWire
import NIOCore
import SwiftProtobuf

/// Errors a handler answers with: a status, a message and meterd's reason code. The reply
/// carries them as an ErrorDetail (docs/protocol.md, "Errors").
public struct RPCFailure: Error {
    public var status: StatusCode
    public var message: String
    public var reason: String

    public init(_ status: StatusCode, _ message: String, reason: String = "") {
        self.status = status
        self.message = message
        self.reason = reason
    }

    /// The error reply: this status with an ErrorDetail payload.
    public var reply: RPCReply {
        var detail = Meterd_V1_ErrorDetail()
        detail.code = UInt32(status.rawValue)
        detail.message = message
        detail.reason = reason
        let payload = (try? ProtobufPayload.encode(detail)) ?? ByteBuffer()
        return RPCReply(status: status, payload: payload)
    }
}

/// Runs a typed handler: decodes the request, maps thrown failures to error replies.
public func unary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
    _ request: Request.Type,
    _ body: @escaping @Sendable (Request, RequestContext) async throws(RPCFailure) -> Response
) -> Router.Handler {
    { payload, context in
        let response: Response
        do throws(RPCFailure) {
            response = try await body(try decodeRequest(Request.self, from: payload), context)
        } catch {
            return error.reply
        }
        return RPCReply(encoding: response)
    }
}

/// Decodes a request payload; one that does not decode is an INVALID_ARGUMENT failure naming
/// the message type (for handlers that do not go through `unary`).
public func decodeRequest<Request: SwiftProtobuf.Message>(_ request: Request.Type, from payload: ByteBuffer) throws(RPCFailure) -> Request {
    do {
        return try ProtobufPayload.decode(Request.self, from: payload)
    } catch {
        throw RPCFailure(.invalidArgument, "the request does not decode as \(Request.protoMessageName): \(error)")
    }
}

extension RPCReply {
    /// An OK reply carrying `response`, or INTERNAL if it cannot be encoded.
    public init(encoding response: some SwiftProtobuf.Message) {
        do {
            self.init(status: .ok, payload: try ProtobufPayload.encode(response))
        } catch {
            self = RPCFailure(.internalError, "could not encode the response: \(error)").reply
        }
    }
}
