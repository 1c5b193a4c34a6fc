import Foundation
import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// Partitioned cluster mode (docs/cluster.md, "Partitions", "Forwarding"): an ingest request's
/// events split by the partition of their (tenant, customer); each part is written through its
/// partition's engine when this node holds it, or forwarded to the partition's owner; the
/// per-event results are put back in request order.
///
/// If a part's partition has no owner right now (being rebuilt, lease being taken over), or the
/// request was itself forwarded and a part is not held here, nothing is written and the request
/// fails UNAVAILABLE saying why (naming the owner when there is one). When parts are written
/// and one of them fails (its owner died, its partition moved while the write was in flight),
/// the request fails UNAVAILABLE: the client retries it with the same event ids, and the parts
/// that were written are answered DUPLICATE.
enum PartitionedIngest {
    /// What each part gave: local results (for the metrics) and the wire results of every event.
    struct Outcome: Sendable {
        var results: [Meterd_V1_EventResult]
        var local: [EventResult]
    }

    static func ingest(_ decoded: [Result<UsageEvent, MeterError>], tenantId: String, partitions: any PartitionedEngines,
                       forwarder: PartitionForwarder?, mayForward: Bool, includeEffects: Bool = false,
                       completion: @escaping @Sendable (Result<Outcome, RPCFailure>) -> Void) {
        var results = [Meterd_V1_EventResult?](repeating: nil, count: decoded.count)
        var parts: [Int: [Int]] = [:]
        for (index, item) in decoded.enumerated() {
            switch item {
            case .success(let event): parts[partitions.partition(tenantId: tenantId, customerId: event.customerId), default: []].append(index)
            case .failure(let error): results[index] = ProtoConversions.proto(EventResult.rejected(error))
            }
        }
        var local: [(engine: MeterEngine, indices: [Int])] = []
        var remote: [String: (owner: String, indices: [Int])] = [:]
        for (partition, indices) in parts.sorted(by: { $0.key < $1.key }) {
            let route = partitions.route(partition: partition)
            switch route {
            case .local(let engine):
                local.append((engine, indices))
            case .remote(let owner, let address) where mayForward && forwarder != nil:
                remote[address, default: (owner, [])].indices += indices
            default:
                completion(.failure(RPCFailure(route.refusal(partition: partition)!)))
                return
            }
        }
        func event(_ index: Int) -> UsageEvent {
            if case .success(let event) = decoded[index] { return event }
            preconditionFailure("only decoded events are in parts")
        }
        let gather = Gather(results: results, parts: local.count + remote.count, completion: completion)
        if local.count + remote.count == 0 {
            gather.finish()
            return
        }
        for (engine, indices) in local {
            // Effects asked for: decided as this node's applier applies the part's record, and
            // turned into wire results here (no `ExactDecimal` leaves this closure).
            let effects = includeEffects ? EntitlementEffects() : nil
            engine.ingest(tenantId: tenantId, events: indices.map(event), entitlementEffects: effects) { result in
                gather.add(indices, result.map { $0 }.mapError { RPCFailure($0) }, effects: effects?.effects ?? [])
            }
        }
        for (address, part) in remote {
            let events = part.indices.map { ProtoConversions.proto(event($0)) }
            Task {
                do throws(RPCFailure) {
                    var request = Meterd_V1_IngestBatchRequest()
                    request.events = events
                    request.includeEntitlementEffects = includeEffects
                    let response = try await forwarder!.call(.ingestBatch, request, as: Meterd_V1_IngestBatchResponse.self,
                                                             owner: part.owner, address: address, tenantId: tenantId)
                    guard response.results.count == events.count else {
                        throw RPCFailure(.unavailable, "\(part.owner) answered \(response.results.count) results for \(events.count) forwarded events; retry with the same event ids")
                    }
                    gather.add(part.indices, .success(response.results))
                } catch {
                    gather.add(part.indices, .failure(error))
                }
            }
        }
    }

    /// Collects the parts' results; answers once every part answered.
    private final class Gather: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [Meterd_V1_EventResult?]
        private var local: [EventResult] = []
        private var remaining: Int
        private var failure: RPCFailure?
        private let completion: @Sendable (Result<Outcome, RPCFailure>) -> Void

        init(results: [Meterd_V1_EventResult?], parts: Int, completion: @escaping @Sendable (Result<Outcome, RPCFailure>) -> Void) {
            self.results = results
            remaining = parts
            self.completion = completion
        }

        /// A local part's results, with their effects (one per result, or none).
        func add(_ indices: [Int], _ result: Result<[EventResult], RPCFailure>, effects: [EntitlementEffect?]) {
            add(indices, result.map { partResults in
                lock.withLock { local += partResults }
                return partResults.enumerated().map { position, partResult in
                    var proto = ProtoConversions.proto(partResult)
                    if position < effects.count, let effect = effects[position] { proto.entitlement = ProtoConversions.proto(effect) }
                    return proto
                }
            })
        }

        func add(_ indices: [Int], _ result: Result<[Meterd_V1_EventResult], RPCFailure>) {
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
            lock.unlock()
            finish()
        }

        func finish() {
            let outcome: Result<Outcome, RPCFailure> = lock.withLock {
                if let failure { return .failure(failure) }
                return .success(Outcome(results: results.map { $0! }, local: local))
            }
            completion(outcome)
        }
    }
}
