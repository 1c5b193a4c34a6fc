// Built with the Cluster trait only (`swift build --traits Cluster`, needs libnats-dev).
#if Cluster
import CNATS

/// A failed call of the NATS C client: what was being done, the client's status text, its
/// last error detail and, for JetStream calls, the JetStream error code.
public struct NATSError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// The client's status (for example NATS_TIMEOUT), as its raw value.
    public let status: UInt32

    init(_ what: String, _ status: natsStatus, jetStreamCode: jsErrCode = jsErrCode(0)) {
        var text = "\(what): \(String(cString: natsStatus_GetText(status)))"
        var lastStatus = NATS_OK
        if let detail = nats_GetLastError(&lastStatus), detail.pointee != 0 { text += " (\(String(cString: detail)))" }
        if jetStreamCode.rawValue != 0 { text += " [JetStream error \(jetStreamCode.rawValue)]" }
        self.description = text
        self.status = status.rawValue
    }

    init(message: String) {
        self.description = message
        self.status = NATS_ERR.rawValue
    }

    var isTimeout: Bool { status == NATS_TIMEOUT.rawValue }
}
#endif
