import Foundation
import MeterCore
import MeterEngine

/// Partitioned cluster mode (docs/cluster.md, "Partitions"): an ingest request's events split
/// by the partition of their (tenant, customer), each part written through its partition's
/// engine, and the results put back in request order.
///
/// Every part's partition must be served here: if one is not (another node owns it, or it is
/// being rebuilt), nothing is written and the request fails UNAVAILABLE with a message naming
/// the owner, so that the client can send it there (forwarding to the owner is not built yet).
/// When parts are written and one of them fails (its partition moved while the write was in
/// flight), the request fails UNAVAILABLE: the client retries it with the same event ids, and
/// the parts that were written are answered DUPLICATE.
enum PartitionedIngest {
    static func ingest(_ events: [UsageEvent], tenantId: String, partitions: any PartitionedEngines,
                       completion: @escaping @Sendable (Result<[EventResult], EngineError>) -> Void) {
        var parts: [Int: [Int]] = [:]
        for (index, event) in events.enumerated() {
            parts[partitions.partition(tenantId: tenantId, customerId: event.customerId), default: []].append(index)
        }
        var engines: [(engine: MeterEngine, indices: [Int])] = []
        for (partition, indices) in parts.sorted(by: { $0.key < $1.key }) {
            switch partitions.engine(partition: partition) {
            case .success(let engine): engines.append((engine, indices))
            case .failure(let error):
                completion(.failure(error))
                return
            }
        }
        if engines.count == 1 {
            engines[0].engine.ingest(tenantId: tenantId, events: events, completion: completion)
            return
        }
        let gather = Gather(count: events.count, parts: engines.count, completion: completion)
        for (engine, indices) in engines {
            engine.ingest(tenantId: tenantId, events: indices.map { events[$0] }) { result in gather.add(indices, result) }
        }
    }

    /// Collects the parts' results; answers once every part answered.
    private final class Gather: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [EventResult?]
        private var remaining: Int
        private var failure: EngineError?
        private let completion: @Sendable (Result<[EventResult], EngineError>) -> Void

        init(count: Int, parts: Int, completion: @escaping @Sendable (Result<[EventResult], EngineError>) -> Void) {
            results = Array(repeating: nil, count: count)
            remaining = parts
            self.completion = completion
        }

        func add(_ indices: [Int], _ result: Result<[EventResult], EngineError>) {
            lock.lock()
            switch result {
            case .success(let partResults):
                for (index, partResult) in zip(indices, partResults) { results[index] = partResult }
            case .failure(let error):
                if failure == nil { failure = error }
            }
            remaining -= 1
            guard remaining == 0 else {
                lock.unlock()
                return
            }
            let outcome: Result<[EventResult], EngineError> = failure.map { .failure($0) } ?? .success(results.map { $0! })
            lock.unlock()
            completion(outcome)
        }
    }
}
