import MeterCore
import MeterServer
import NIOConcurrencyHelpers

/// Cluster mode: hands the API keys applied from the replicated log (created or revoked on any
/// node) to the wire server's key store, which the HTTP listener shares, so that a key made on
/// one node is accepted on every node and a revocation holds on every node. The store exists
/// only once the server is built; keys applied before that are kept and handed over then
/// (updates are idempotent, and a revocation wins whatever the order).
final class ReplicatedKeyRelay: Sendable {
    private struct State {
        var store: KeyStore?
        var pending: [ApiKey] = []
    }

    private let state = NIOLockedValueBox(State())

    /// A key applied from the log (on the engine's writer thread).
    func apply(_ key: ApiKey) {
        let store = state.withLockedValue { state -> KeyStore? in
            if state.store == nil { state.pending.append(key) }
            return state.store
        }
        store?.update(key)
    }

    /// From now on keys go to `store`; those applied so far are handed over first.
    func attach(_ store: KeyStore) {
        let pending = state.withLockedValue { state -> [ApiKey] in
            state.store = store
            defer { state.pending = [] }
            return state.pending
        }
        for key in pending { store.update(key) }
    }
}
