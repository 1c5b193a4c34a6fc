import CoreMetrics
import NIOConcurrencyHelpers

/// Metrics of access control (docs/operations.md): refused handshakes and requests by reason,
/// and requests a role did not allow, by method.
public final class AccessMetrics: Sendable {
    public enum Name {
        public static let authenticationFailures = "meterd_authentication_failures_total"
        public static let permissionDenied = "meterd_permission_denied_total"
    }

    private let factory: any MetricsFactory
    private let failures = NIOLockedValueBox([String: Counter]())
    private let denials = NIOLockedValueBox([String: Counter]())

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
    }

    /// A credential was missing, malformed, unknown or revoked (`reason` says which).
    public func authenticationFailed(reason: String) {
        counter(in: failures, label: Name.authenticationFailures, dimension: ("reason", reason)).increment()
    }

    /// A valid credential asked for a method its role does not allow, or for another tenant.
    public func permissionDenied(method: String) {
        counter(in: denials, label: Name.permissionDenied, dimension: ("method", method)).increment()
    }

    private func counter(in box: NIOLockedValueBox<[String: Counter]>, label: String, dimension: (String, String)) -> Counter {
        box.withLockedValue { counters in
            if let existing = counters[dimension.1] { return existing }
            let made = Counter(label: label, dimensions: [dimension], factory: factory)
            counters[dimension.1] = made
            return made
        }
    }
}
