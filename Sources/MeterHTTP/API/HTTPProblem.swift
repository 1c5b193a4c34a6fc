import HTTPTypes
import Hummingbird
import MeterCore
import MeterEngine
import MeterServer
import MeterWire
import MeterWireServer
import NIOCore

/// An error answered as RFC 9457 `application/problem+json`, carrying the binary protocol's
/// status name (`code`), meterd's rejection reason (`reason`) and the same message (`detail`).
public struct HTTPProblem: Error, Sendable {
    public var status: StatusCode
    public var detail: String
    public var reason: String
    /// An HTTP status more precise than the wire status's usual one (413 for a body too large).
    public var httpStatusOverride: HTTPResponse.Status?

    public init(_ status: StatusCode, _ detail: String, reason: String = "", httpStatus: HTTPResponse.Status? = nil) {
        self.status = status
        self.detail = detail
        self.reason = reason
        self.httpStatusOverride = httpStatus
    }

    public init(_ failure: RPCFailure) {
        self.init(failure.status, failure.message, reason: failure.reason)
    }

    public init(_ error: EngineError) {
        self.init(RPCFailure(error))
    }

    public init(_ error: MeterError) {
        self.init(RPCFailure(error))
    }

    /// The HTTP status for a wire status code (the grpc-gateway mapping, with 409 for ALREADY_EXISTS).
    public var httpStatus: HTTPResponse.Status {
        if let httpStatusOverride { return httpStatusOverride }
        switch status {
        case .ok: return .ok
        case .invalidArgument, .failedPrecondition, .outOfRange: return .badRequest
        case .notFound: return .notFound
        case .alreadyExists, .aborted: return .conflict
        case .permissionDenied: return .forbidden
        case .unauthenticated: return .unauthorized
        case .resourceExhausted: return .tooManyRequests
        case .unimplemented: return .notImplemented
        case .unavailable: return .serviceUnavailable
        case .deadlineExceeded: return .gatewayTimeout
        default: return .internalServerError
        }
    }

    /// The problem document's JSON text.
    public var json: String {
        var output = JSONOutput()
        output.beginObject()
        output.field("type", "urn:meterd:problem:\(reason.isEmpty ? status.description : reason)")
        output.field("title", status.description)
        output.field("status", integer: httpStatus.code)
        output.field("detail", detail)
        output.field("code", status.description)
        output.field("reason", reason)
        output.endObject()
        return output.text
    }

    /// The response: the status, `application/problem+json`, and a Bearer challenge on 401.
    public var response: Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if status == .unauthenticated { headers[.wwwAuthenticate] = "Bearer realm=\"meterd\"" }
        return Response(status: httpStatus, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }
}

/// A JSON answer with the given status.
func jsonResponse(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
}
