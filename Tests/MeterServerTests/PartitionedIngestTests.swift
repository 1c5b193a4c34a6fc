import Foundation
import MeterCore
import MeterEngine
@testable import MeterServer
import MeterProto
import MeterTestSupport
import MeterWire
import MeterWireServer
import XCTest

/// Partitioned cluster mode's split of an ingest request (no NATS): each event goes to the
/// engine of its customer's partition, results come back in request order, and a request with a
/// part nobody can take writes nothing.
final class PartitionedIngestTests: XCTestCase {
    /// Customers "a..." are partition 0, every other customer partition 1; routes as given.
    struct Partitions: PartitionedEngines {
        var routes: [Int: PartitionRoute]
        func partition(tenantId: String, customerId: String) -> Int { customerId.hasPrefix("a") ? 0 : 1 }
        func route(partition: Int) -> PartitionRoute { routes[partition]! }
    }

    func engine(_ name: String) throws -> MeterEngine {
        let directory = try TemporaryDirectory("meterd-partitioned-\(name)", removedBy: { self.addTeardownBlock($0) })
        var options = EngineOptions(dataDirectory: directory.file("data"))
        options.durability = .none
        return try MeterEngine.open(options: options)
    }

    static func event(_ id: String, customer: String) -> UsageEvent {
        UsageEvent(eventId: id, eventName: "api_call", customerId: customer, timestampMilliseconds: EngineOptions.systemClock())
    }

    func ingest(_ decoded: [Result<UsageEvent, MeterError>], _ partitions: Partitions, mayForward: Bool = true) async -> Result<PartitionedIngest.Outcome, RPCFailure> {
        await withCheckedContinuation { continuation in
            PartitionedIngest.ingest(decoded, tenantId: Tenant.defaultId, partitions: partitions, forwarder: nil, mayForward: mayForward) {
                continuation.resume(returning: $0)
            }
        }
    }

    func testEventsGoToTheirPartitionsEngineAndResultsComeBackInRequestOrder() async throws {
        let first = try engine("0"), second = try engine("1")
        let partitions = Partitions(routes: [0: .local(first), 1: .local(second)])
        let decoded: [Result<UsageEvent, MeterError>] = [
            .success(Self.event("e1", customer: "acme")),
            .success(Self.event("e2", customer: "globex")),
            .failure(MeterError(.invalidEventId, "bad id")),
            .success(Self.event("e3", customer: "acme")),
            .success(Self.event("e2", customer: "globex")),
        ]
        let outcome = try await ingest(decoded, partitions).get()
        XCTAssertEqual(outcome.results.map(\.status), [.accepted, .accepted, .rejected, .accepted, .duplicate])
        XCTAssertEqual(outcome.results[2].reason, "INVALID_EVENT_ID")
        XCTAssertEqual(outcome.local.count, 4)
        // A retry is answered DUPLICATE: every event reached the engine of its partition...
        let retry = try await ingest(decoded, partitions).get()
        XCTAssertEqual(retry.results.map(\.status), [.duplicate, .duplicate, .rejected, .duplicate, .duplicate])
        // ...and only that one: the other engine has never seen it.
        let secondFreshe1 = try await second.ingest(events: [Self.event("e1", customer: "acme")])
        XCTAssertEqual(secondFreshe1, [.accepted(.noActiveMeter)])
        let firstFreshe2 = try await first.ingest(events: [Self.event("e2", customer: "globex")])
        XCTAssertEqual(firstFreshe2, [.accepted(.noActiveMeter)])
    }

    func testARequestWithAPartNobodyCanTakeWritesNothing() async throws {
        let first = try engine("0")
        let partitions = Partitions(routes: [0: .local(first), 1: .unavailable(.unavailable("partition 1 is being rebuilt; retry shortly"))])
        let decoded: [Result<UsageEvent, MeterError>] = [.success(Self.event("e1", customer: "acme")), .success(Self.event("e2", customer: "globex"))]
        guard case .failure(let failure) = await ingest(decoded, partitions) else { return XCTFail("the request was taken") }
        XCTAssertEqual(failure.status, .unavailable)
        XCTAssertTrue(failure.message.contains("being rebuilt"), failure.message)
        // Partition 0's part was not written either.
        let firstFreshe1 = try await first.ingest(events: [Self.event("e1", customer: "acme")])
        XCTAssertEqual(firstFreshe1, [.accepted(.noActiveMeter)])
    }

    func testAForwardedRequestIsNotForwardedAgainButRefusedNamingTheOwner() async throws {
        let first = try engine("0")
        let partitions = Partitions(routes: [0: .local(first), 1: .remote(node: "node-2", address: "/tmp/node-2/meterd.sock")])
        let decoded: [Result<UsageEvent, MeterError>] = [.success(Self.event("e1", customer: "acme")), .success(Self.event("e2", customer: "globex"))]
        guard case .failure(let failure) = await ingest(decoded, partitions, mayForward: false) else { return XCTFail("the request was taken") }
        XCTAssertEqual(failure.status, .unavailable)
        XCTAssertTrue(failure.message.contains("owned by node-2 at /tmp/node-2/meterd.sock"), failure.message)
        let firstFreshe1 = try await first.ingest(events: [Self.event("e1", customer: "acme")])
        XCTAssertEqual(firstFreshe1, [.accepted(.noActiveMeter)])
    }
}
