import MeterCore
import MeterEngine
import MeterWire
import MeterWireServer

/// How the engine's and the state machine's errors become replies: a rejection's code picks
/// the status and names the reason; the engine's own refusals carry no reason.
extension RPCFailure {
    public init(_ error: MeterError) {
        self.init(Self.status(for: error.code), error.message, reason: error.code.name)
    }

    public init(_ error: EngineError) {
        switch error {
        case .rejected(let meterError): self.init(meterError)
        // Not rejections: an empty reason, as docs/protocol.md says.
        case .unavailable(let message): self.init(.unavailable, message)
        case .resourceExhausted(let message): self.init(.resourceExhausted, message)
        }
    }

    public static func status(for code: RejectionCode) -> StatusCode {
        switch code {
        case .meterAlreadyExists: return .alreadyExists
        case .meterNotFound, .keyNotFound, .entitlementNotFound, .grantNotFound, .thresholdRuleNotFound: return .notFound
        case .meterArchived, .immutableField, .resolutionUnavailable, .keyRevoked: return .failedPrecondition
        case .valueOverflow: return .outOfRange
        case .quotaCustomersPerMeter, .quotaSeriesPerMeter: return .resourceExhausted
        default: return .invalidArgument
        }
    }
}

/// Runs an engine call for a handler (binary or HTTP): an `EngineError` becomes the `RPCFailure` it answers.
public func engineCall<Value>(_ body: () async throws(EngineError) -> Value) async throws(RPCFailure) -> Value {
    do throws(EngineError) {
        return try await body()
    } catch {
        throw RPCFailure(error)
    }
}
