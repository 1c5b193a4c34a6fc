import Foundation

/// Where and how threshold notifications are POSTed: one endpoint for the whole server (each
/// payload names its tenant), a shared secret for the HMAC-SHA256 signature, and the retry
/// policy (exponential backoff with jitter, dead letter after `maximumAttempts`).
public struct WebhookConfiguration: Sendable {
    public var url: URL
    public var secret: [UInt8]
    public var maximumAttempts: Int
    public var initialBackoff: Duration
    public var maximumBackoff: Duration
    public var requestTimeout: Duration
    /// The outbox file (delivery cursor and dead letters), normally in the data directory.
    public var outboxPath: String

    public init(url: URL, secret: [UInt8], outboxPath: String, maximumAttempts: Int = 8,
                initialBackoff: Duration = .milliseconds(500), maximumBackoff: Duration = .seconds(60),
                requestTimeout: Duration = .seconds(10)) {
        self.url = url
        self.secret = secret
        self.outboxPath = outboxPath
        self.maximumAttempts = maximumAttempts
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.requestTimeout = requestTimeout
    }

    /// The wait before retry `attempt` (1 after the first failure): initial x 2^(attempt-1),
    /// capped, then scaled by a random factor in [0.5, 1] so that many failed deliveries do
    /// not retry in step.
    func backoff(afterAttempt attempt: Int, random: Double) -> Duration {
        let exponent = Swift.min(attempt - 1, 30)
        let base = Swift.min(initialBackoff * (1 << exponent), maximumBackoff)
        return base * (0.5 + 0.5 * random)
    }
}
