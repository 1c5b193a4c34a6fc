import Foundation
import MeterCore
import MeterEngine
@testable import MeterServer
import MeterProto
import MeterTestSupport
import MeterWire
import MeterWireServer
import XCTest

/// Partitioned cluster mode's usage over every customer (no NATS, real engines, a real
/// forwarding connection): a "front" node holds partitions 0 and 1 and forwards partition 2's
/// part to a "back" node, a real MeterServer on a Unix socket; the merged answers must equal
/// those of one engine fed the same events.
final class ClusterUsageTests: XCTestCase {
    /// Customer "cN" is in partition N mod 3.
    struct Partitions: PartitionedEngines {
        var routes: [Int: PartitionRoute]
        func partition(tenantId: String, customerId: String) -> Int { Int(customerId.dropFirst())! % 3 }
        func route(partition: Int) -> PartitionRoute { routes[partition]! }
    }

    func engine(_ name: String, in directory: TemporaryDirectory) throws -> MeterEngine {
        var options = EngineOptions(dataDirectory: directory.file(name))
        options.durability = .none
        let engine = try MeterEngine.open(options: options)
        addTeardownBlock { await engine.shutdown() }
        return engine
    }

    /// The meters of the test, created in the same order on every engine (so with the same ids);
    /// meter `mtr_N` counts the events named `mN`, and every event is sent under each name.
    static let meters: [MeterDefinition] = [
        MeterDefinition(eventName: "m1", displayName: "Tokens", aggregation: .sum("tokens"), groupBy: ["model"]),
        MeterDefinition(eventName: "m2", displayName: "Calls", aggregation: .count, reset: .monthly),
        MeterDefinition(eventName: "m3", displayName: "Largest", aggregation: Aggregation(kind: .maximum, field: "tokens")),
        MeterDefinition(eventName: "m4", displayName: "Smallest", aggregation: Aggregation(kind: .minimum, field: "tokens")),
        MeterDefinition(eventName: "m5", displayName: "Priced", aggregation: .sum("tokens", multiplier: ExactDecimal(3))),
        MeterDefinition(eventName: "m6", displayName: "Average", aggregation: Aggregation(kind: .average, field: "tokens")),
        MeterDefinition(eventName: "m7", displayName: "Latest", aggregation: Aggregation(kind: .latest, field: "tokens")),
        MeterDefinition(eventName: "m8", displayName: "Models", aggregation: Aggregation(kind: .countUnique, field: "model")),
        MeterDefinition(eventName: "m9", displayName: "Fractional", aggregation: .sum("tokens", multiplier: try! ExactDecimal(parsing: "0.333"))),
    ]

    func testUsageOverEveryCustomerMergedFromLocalAndForwardedPartitionsEqualsOneEngines() async throws {
        let directory = try TemporaryDirectory("meterd-cluster-usage", removedBy: { self.addTeardownBlock($0) })
        let single = try engine("single", in: directory)
        let frontMeta = try engine("front-meta", in: directory), backMeta = try engine("back-meta", in: directory)
        let p0 = try engine("p0", in: directory), p1 = try engine("p1", in: directory), p2 = try engine("p2", in: directory)
        var meterIds: [String] = []
        for definition in Self.meters {
            meterIds.append(try await single.createMeter(definition).id)
            for engine in [frontMeta, backMeta, p0, p1, p2] { _ = try await engine.createMeter(definition) }
        }
        XCTAssertEqual(meterIds, (1...Self.meters.count).map { "mtr_\($0)" })

        // The back node: partition 2 here, the others "elsewhere" (never asked: it is not asked to forward).
        let socket = directory.file("back.sock")
        var configuration = ServerConfiguration()
        configuration.unixSocketPath = socket
        configuration.tcpHost = nil
        let back = MeterServer(engine: backMeta, configuration: configuration, cluster: ClusterAccess(
            engine: backMeta, partitions: Partitions(routes: [0: .remote(node: "front", address: "/nonexistent"), 1: .remote(node: "front", address: "/nonexistent"), 2: .local(p2)]),
            partitionCount: 3, nodeName: "back"))
        _ = try await back.start()
        addTeardownBlock { await back.shutdown() }
        let front = ClusterAccess(engine: frontMeta, partitions: Partitions(routes: [0: .local(p0), 1: .local(p1), 2: .remote(node: "back", address: socket)]),
                                  partitionCount: 3, nodeName: "front")
        addTeardownBlock { await front.close() }

        // Events of 12 customers (4 per partition) over two hours, random values with fractions.
        var random = TestSeed.generator(for: "ClusterUsageTests")
        let now = EngineOptions.systemClock()
        var base: [UsageEvent] = []
        for index in 0..<300 {
            let tokens = try ExactDecimal(parsing: "\(random.next() % 100_000).\(random.next() % 1_000)")
            base.append(UsageEvent(eventId: "e\(index)", eventName: "m1", customerId: "c\(random.next() % 12)",
                                   timestampMilliseconds: now - Int64(random.next() % 7_000_000),
                                   properties: [EventProperty(key: "tokens", value: .decimal(tokens)),
                                                EventProperty(key: "model", value: .string(["small", "large", "huge"][Int(random.next() % 3)]))]))
        }
        var events: [UsageEvent] = []
        for event in base {
            for meter in 1...Self.meters.count {
                var copy = event
                copy.eventId = "\(event.eventId)-m\(meter)"
                copy.eventName = "m\(meter)"
                events.append(copy)
            }
        }
        for start in stride(from: 0, to: events.count, by: 100) {
            let batch = Array(events[start..<start + 100])
            let expected = try await single.ingest(events: batch)
            let results = try await front.ingest(batch.map { .success($0) }, tenantId: Tenant.defaultId).get()
            XCTAssertEqual(results, expected)
        }
        // Every partition got its customers' events (the back node's by forwarding).
        for engine in [p0, p1, p2] {
            let counted = try await engine.meter(.id("mtr_2")).counters.counted
            XCTAssertGreaterThan(counted, 50)
        }

        let minute: Int64 = 60_000
        let to = (now / minute + 2) * minute, from = to - 3 * 3_600_000
        var queries: [UsageQuery] = []
        for id in meterIds.prefix(5) {
            queries.append(UsageQuery(meter: .id(id), fromMilliseconds: from, toMilliseconds: to))
            queries.append(UsageQuery(meter: .id(id), fromMilliseconds: from, toMilliseconds: to, windowSize: .fifteenMinutes))
        }
        queries.append(UsageQuery(meter: .id("mtr_1"), fromMilliseconds: from, toMilliseconds: to, windowSize: .hour, groupBy: ["model"]))
        queries.append(UsageQuery(meter: .eventName("m1"), fromMilliseconds: from, toMilliseconds: to, windowSize: .hour, groupBy: ["model"],
                                  groupFilters: [MeterFilter(key: "model", values: ["large", "huge"])]))
        for id in meterIds {
            queries.append(UsageQuery(meter: .id(id), fromMilliseconds: from, toMilliseconds: to, windowSize: .hour, groupByCustomer: true))
        }
        queries.append(UsageQuery(meter: .id("mtr_1"), fromMilliseconds: from, toMilliseconds: to, windowSize: .hour, groupByCustomer: true, groupBy: ["model"]))
        for query in queries {
            let expected = try await single.usage(query)
            let merged = try await front.usage(query)
            XCTAssertEqual(merged.rows, expected.rows, "\(query)")
            XCTAssertEqual(merged.meter.id, expected.meter.id)
            XCTAssertEqual(merged.meter.counters, expected.meter.counters)
            XCTAssertFalse(expected.rows.isEmpty)
        }
        // The values are exact: the SUM over every customer is the exact sum of the events' values.
        var total = ExactDecimal.zero
        for event in base {
            if case .decimal(let value) = event.properties[0].value { total = try total.adding(value) }
        }
        let whole = try await front.usage(UsageQuery(meter: .id("mtr_1"), fromMilliseconds: from, toMilliseconds: to))
        XCTAssertEqual(whole.rows.map(\.value), [total])
        XCTAssertEqual(whole.rows.map(\.eventCount), [300])

        // Current usage over every customer, at one instant, equals the single engine's.
        for id in meterIds.prefix(5) {
            let expected = try await single.read { machine throws(MeterError) in
                try machine.currentUsage(tenantId: Tenant.defaultId, meter: .id(id), customerId: nil, atMilliseconds: now)
            }
            let merged = try await front.currentUsage(tenantId: Tenant.defaultId, meter: .id(id), customerId: nil, atMilliseconds: now)
            XCTAssertEqual(merged.row, expected, id)
        }
        // One customer's, forwarded or not.
        for customer in ["c2", "c3"] {
            let query = UsageQuery(meter: .id("mtr_1"), fromMilliseconds: from, toMilliseconds: to, windowSize: .hour, customerId: customer)
            let expected = try await single.usage(query)
            let answered = try await front.usage(query)
            XCTAssertEqual(answered.rows, expected.rows)
        }

        // AVG, LATEST, COUNT_UNIQUE and a fractional multiplier cannot be merged over every
        // customer without grouping by customer: refused, saying what to do.
        for id in meterIds.suffix(4) {
            do throws(RPCFailure) {
                _ = try await front.usage(UsageQuery(meter: .id(id), fromMilliseconds: from, toMilliseconds: to))
                XCTFail("\(id) over every customer was answered")
            } catch {
                XCTAssertEqual(error.status, .invalidArgument)
                XCTAssertTrue(error.message.contains("group by customer"), error.message)
            }
        }
    }

    func testAPartitionWithoutOwnerFailsTheQueryAndClientsMayNotNamePartitions() async throws {
        let directory = try TemporaryDirectory("meterd-cluster-usage-refusals", removedBy: { self.addTeardownBlock($0) })
        let meta = try engine("meta", in: directory), p0 = try engine("p0", in: directory)
        for engine in [meta, p0] { _ = try await engine.createMeter(Self.meters[1]) }
        let partitions = Partitions(routes: [0: .local(p0), 1: .unavailable(.unavailable("partition 1 is being rebuilt on node-2; retry shortly")),
                                             2: .remote(node: "node-3", address: "/nonexistent.sock")])
        let access = ClusterAccess(engine: meta, partitions: partitions, partitionCount: 3, nodeName: "front")
        addTeardownBlock { await access.close() }
        let query = UsageQuery(meter: .id("mtr_1"), fromMilliseconds: 0, toMilliseconds: 60_000)
        do throws(RPCFailure) {
            _ = try await access.usage(query)
            XCTFail("answered without partition 1")
        } catch {
            XCTAssertEqual(error.status, .unavailable)
            XCTAssertTrue(error.message.contains("being rebuilt"), error.message)
        }
        // A client naming partitions is refused; a forwarding node may, for partitions held here only.
        do throws(RPCFailure) {
            _ = try await access.usage(query, only: [0])
            XCTFail("a client named partitions")
        } catch {
            XCTAssertEqual(error.status, .invalidArgument)
        }
        let onlyHere = try await access.usage(query, only: [0], forwarded: true)
        XCTAssertEqual(onlyHere.rows.count, 1)
        do throws(RPCFailure) {
            _ = try await access.usage(query, only: [0, 2], forwarded: true)
            XCTFail("a forwarded query was forwarded again")
        } catch {
            XCTAssertEqual(error.status, .unavailable)
            XCTAssertTrue(error.message.contains("owned by node-3"), error.message)
        }
        do throws(RPCFailure) {
            _ = try await access.usage(query, forwarded: true)
            XCTFail("a forwarded query over every customer without partitions was answered")
        } catch {
            XCTAssertEqual(error.status, .invalidArgument)
        }
    }

    /// The merge alone: groups present in some partitions only, an empty partition's empty
    /// value, windows in order, a single node's order of groups (a missing group value first).
    func testTheMergeCombinesGroupsPresentInSomePartitionsAndIgnoresEmptyValues() throws {
        func row(_ start: Int64, _ group: String?, _ value: String?, _ count: Int64) -> UsageRow {
            UsageRow(windowStartMilliseconds: start, windowEndMilliseconds: start + 60_000, customerId: nil,
                     group: [GroupValue(key: "model", value: group)], value: value.map { try! ExactDecimal(parsing: $0) }, eventCount: count)
        }
        let first = [row(0, "b", "2.5", 1), row(60_000, "b", nil, 0), row(0, "c", "7", 2), row(60_000, "c", "1", 1)]
        let second = [row(0, nil, "4", 1), row(60_000, nil, nil, 0), row(0, "b", "3.25", 2), row(60_000, "b", "-1", 1)]
        let maximum = try UsageRowMerge.merge([first, second], aggregation: Aggregation(kind: .maximum, field: "tokens"))
        XCTAssertEqual(maximum, [row(0, nil, "4", 1), row(60_000, nil, nil, 0), row(0, "b", "3.25", 3), row(60_000, "b", "-1", 1),
                                 row(0, "c", "7", 2), row(60_000, "c", "1", 1)])
        let sum = try UsageRowMerge.merge([first, second], aggregation: .sum("tokens"))
        XCTAssertEqual(sum[2], row(0, "b", "5.75", 3))
        XCTAssertEqual(sum[3], row(60_000, "b", "-1", 1))
        // Parts that disagree on the windows are not merged.
        XCTAssertThrowsError(try UsageRowMerge.merge([first, [row(120_000, "b", "1", 1)]], aggregation: .sum("tokens")))
    }

    func testRowValuesAreReadBackOverTheWholeRange() {
        XCTAssertEqual(UsageRowMerge.units("0"), 0)
        XCTAssertEqual(UsageRowMerge.units("-0.5"), -500_000_000)
        XCTAssertEqual(UsageRowMerge.units("12.000000001"), 12_000_000_001)
        let large = ExactDecimal(units: Int128.max)
        XCTAssertEqual(UsageRowMerge.units(large.description), Int128.max)
        XCTAssertEqual(UsageRowMerge.units(ExactDecimal(units: Int128.min + 1).description), Int128.min + 1)
        for bad in ["", "-", "1.", ".5", "1.0000000001", "1e5", "1,5", "--1"] { XCTAssertNil(UsageRowMerge.units(bad), bad) }
    }
}
