import MeterCore
import NIOConcurrencyHelpers

/// The server's view of the API keys, for the event loops: active keys by the SHA-256 of their
/// secret, and which keys are revoked. Loaded from the engine's state at start and updated by
/// the Access service when a create or revoke is durable, before its reply, so a revocation
/// holds for every request that arrives after the revoke was answered, on every connection.
public final class KeyStore: Sendable {
    /// What a credential's hash finds.
    public enum Lookup: Sendable, Hashable {
        case unknown
        case revoked(keyId: String)
        case active(ApiKey)
    }

    private struct State {
        var byHash: [[UInt8]: ApiKey] = [:]
        var revoked: Set<String> = []
        var count = 0
    }

    private let state = NIOLockedValueBox(State())

    public init(keys: [ApiKey] = []) {
        for key in keys { update(key) }
    }

    /// Adds a new key or records its revocation.
    public func update(_ key: ApiKey) {
        state.withLockedValue { state in
            if state.byHash.updateValue(key, forKey: key.definition.secretHash) == nil { state.count += 1 }
            if key.isRevoked { state.revoked.insert(key.id) }
        }
    }

    public func lookup(secretHash: [UInt8]) -> Lookup {
        state.withLockedValue { state in
            guard let key = state.byHash[secretHash] else { return .unknown }
            return state.revoked.contains(key.id) ? .revoked(keyId: key.id) : .active(key)
        }
    }

    public func isRevoked(keyId: String) -> Bool {
        state.withLockedValue { $0.revoked.contains(keyId) }
    }

    /// How many keys (active or revoked) the store knows.
    public var count: Int { state.withLockedValue { $0.count } }
}
