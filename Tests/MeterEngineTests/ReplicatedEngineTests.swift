import Dispatch
import Foundation
import MeterCore
import MeterEngine
import MeterLog
import XCTest

/// Cluster mode's engine side (docs/cluster.md) without NATS: writes of an engine with a
/// replicated log go to the log and are answered from applying it; another engine applying
/// the same records at the same log times decides exactly the same.
final class ReplicatedEngineTests: XCTestCase {
    func testWritesGoThroughTheReplicatedLogAndAReplicaApplyingItDecidesTheSame() async throws {
        let clock = ManualClock(engineStart)
        let log = MemoryReplicatedLog(clock: clock)
        var configured = options(DataDirectory(self), clock: clock)
        configured.replicatedLog = log
        let node = try MeterEngine.open(options: configured)
        log.engine = node

        _ = try await node.createMeter(tokensMeter)
        let first = try await node.ingest(events: [usageEvent("a", tokens: 5), usageEvent("b", tokens: 7), usageEvent("a", tokens: 5)])
        XCTAssertEqual(first.map(\.isAccepted), [true, true, false], "the second a in the batch is a duplicate")
        // A client retrying a batch whose reply it lost (through another node) gets duplicates.
        let retried = try await node.ingest(events: [usageEvent("a", tokens: 5), usageEvent("b", tokens: 7)])
        XCTAssertEqual(retried, [.duplicate, .duplicate])
        // The log's time decides lateness: two days after the event, it is too old.
        clock.advance(by: 49 * 3_600_000)
        let late = try await node.ingest(events: [usageEvent("c", tokens: 100)])
        guard case .rejected = late[0] else { return XCTFail("an event older than the late window was \(late[0])") }
        XCTAssertEqual(log.records.count, 4, "every write went through the log (meter, three batches), the refused one too")
        let nodeTotal = try await total(node)
        XCTAssertEqual(nodeTotal, ExactDecimal(12))

        // A replica with its own data directory (its own dedup key) applies the same log.
        let replicaClock = ManualClock(0)
        let replica = try MeterEngine.open(options: options(DataDirectory(self), clock: replicaClock))
        for (record, time) in log.records {
            replicaClock.advance(by: time - replicaClock.read())
            let decoded = try RecordCodec.decode(type: record.type, payload: record.payload)
            let result: Result<ReplicatedReply, EngineError> = await withCheckedContinuation { continuation in
                replica.applyReplicated(decoded) { continuation.resume(returning: $0) }
            }
            XCTAssertEqual(result.description, log.replies[log.records.firstIndex { $0.record == record && $0.time == time }!].description)
        }
        let replicaTotal = try await total(replica)
        XCTAssertEqual(replicaTotal, nodeTotal)
        await node.shutdown()
        await replica.shutdown()
    }
}

extension ReplicatedEngineTests {
    /// Entitlements, grants and threshold rules go through the replicated log too (cluster
    /// mode's meta subject): the writing engine answers from applying its record, a rejected
    /// change is rejected there, and a replica applying the same records decides the same
    /// (grant and rule ids, checks, notifications).
    func testEntitlementChangesGoThroughTheReplicatedLogAndAReplicaDecidesTheSame() async throws {
        let clock = ManualClock(engineStart)
        let log = MemoryReplicatedLog(clock: clock)
        var configured = options(DataDirectory(self), clock: clock)
        configured.replicatedLog = log
        let node = try MeterEngine.open(options: configured)
        log.engine = node

        let meter = try await node.createMeter(tokensMeter)
        let set = try await node.change(.setEntitlement(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "a", limit: ExactDecimal(10),
                                                        enforcement: .hard, actor: .bootstrap))
        guard case .entitlementSet = set else { return XCTFail("setting an entitlement answered \(set)") }
        let grant = try await node.change(.addGrant(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "a", amount: ExactDecimal(5),
                                                    effectiveFromMilliseconds: engineStart - 1, expiresAtMilliseconds: nil, actor: .bootstrap))
        guard case .grantAdded(let added) = grant else { return XCTFail("adding a grant answered \(grant)") }
        XCTAssertEqual(added.id, "grt_1")
        let rule = try await node.change(.addThresholdRule(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: nil,
                                                           level: .absolute(ExactDecimal(12)), actor: .bootstrap))
        guard case .thresholdRuleAdded(let addedRule) = rule else { return XCTFail("adding a rule answered \(rule)") }
        XCTAssertEqual(addedRule.id, "thr_1")
        do {
            _ = try await node.change(.removeGrant(tenantId: Tenant.defaultId, grantId: "grt_9", actor: .bootstrap))
            XCTFail("removing an unknown grant was accepted")
        } catch {
            guard case .rejected = error else { return XCTFail("removing an unknown grant failed with \(error)") }
        }
        _ = try await node.ingest(events: [usageEvent("e1", customer: "a", tokens: 8), usageEvent("e2", customer: "a", tokens: 8)])
        XCTAssertEqual(log.records.count, 5, "meter, entitlement, grant, rule, events: the rejected change was refused before the log")

        let check = try await node.checkEntitlementOnWriter(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "a", atMilliseconds: engineStart)
        XCTAssertEqual(check.usage, ExactDecimal(16))
        XCTAssertEqual(check.limit, ExactDecimal(15))
        XCTAssertFalse(check.hasAccess)
        let notified = try await node.notifications(tenantId: Tenant.defaultId, afterNumber: 0, limit: 10)
        XCTAssertEqual(notified.notifications.map(\.ruleId), ["thr_1"])

        let replicaClock = ManualClock(0)
        let replica = try MeterEngine.open(options: options(DataDirectory(self), clock: replicaClock))
        for (record, time) in log.records {
            replicaClock.advance(by: time - replicaClock.read())
            let decoded = try RecordCodec.decode(type: record.type, payload: record.payload)
            let result: Result<ReplicatedReply, EngineError> = await withCheckedContinuation { continuation in
                replica.applyReplicated(decoded) { continuation.resume(returning: $0) }
            }
            XCTAssertEqual(result.description, log.replies[log.records.firstIndex { $0.record == record && $0.time == time }!].description)
        }
        let replicaCheck = try await replica.checkEntitlementOnWriter(tenantId: Tenant.defaultId, meter: .id(meter.id), customerId: "a", atMilliseconds: engineStart)
        XCTAssertEqual(replicaCheck, check)
        let replicaNotified = try await replica.notifications(tenantId: Tenant.defaultId, afterNumber: 0, limit: 10)
        XCTAssertEqual(replicaNotified.notifications, notified.notifications)
        await node.shutdown()
        await replica.shutdown()
    }
}

/// The replicated log in memory: appends, stamps the record with the clock's time, applies it
/// to `engine` on one serial queue (one record at a time, as the cluster's consumer does) and
/// answers with what applying it gave.
private final class MemoryReplicatedLog: ReplicatedLog, @unchecked Sendable {
    let clock: ManualClock
    var engine: MeterEngine?
    private let queue = DispatchQueue(label: "memory-log")
    private let lock = NSLock()
    private var appended: [(record: LogRecord, time: Int64)] = []
    private var answered: [Result<ReplicatedReply, EngineError>] = []

    init(clock: ManualClock) { self.clock = clock }

    var records: [(record: LogRecord, time: Int64)] { lock.withLock { appended } }
    var replies: [Result<ReplicatedReply, EngineError>] { lock.withLock { answered } }

    func submit(_ record: LogRecord, partitionKey: PartitionKey?, completion: @escaping @Sendable (Result<ReplicatedReply, EngineError>) -> Void) {
        queue.async { [self] in
            let time = clock.read()
            lock.withLock { appended.append((record, time)) }
            let decoded: StateRecord
            do {
                decoded = try RecordCodec.decode(type: record.type, payload: record.payload)
            } catch {
                completion(.failure(.unavailable("undecodable: \(error)")))
                return
            }
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var result: Result<ReplicatedReply, EngineError>?
            engine!.applyReplicated(decoded) { reply in
                result = reply
                done.signal()
            }
            done.wait()
            lock.withLock { answered.append(result!) }
            completion(result!)
        }
    }
}

extension Result where Success == ReplicatedReply, Failure == EngineError {
    /// Comparable text of a reply (meters carry times, events their results).
    var description: String {
        switch self {
        case .success(.events(let results)): return "events \(results)"
        case .success(.meter(let meter)): return "meter \(meter.id) \(meter.definition.eventName)"
        case .success(.apiKey(let key)): return "key \(key.id)"
        case .success(.entitlement(let change)): return "entitlement \(change)"
        case .failure(let error): return "failure \(error)"
        }
    }
}

extension EventResult {
    var isAccepted: Bool { if case .accepted = self { true } else { false } }
}
