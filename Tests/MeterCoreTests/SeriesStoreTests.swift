@testable import MeterCore
import MeterTestSupport
import XCTest

/// `SeriesStore` and its `BucketPool` against a plain model (sorted dictionaries of aggregates
/// and sets of values per series and tier, the layout the store replaced): random events in and
/// out of order, in both tiers, overflows, many distinct values per bucket (lists and hash sets,
/// runs growing and moving), and roll-ups.
final class SeriesStoreTests: XCTestCase {
    private struct ModelSeries {
        var minutes: [Int64: Aggregate] = [:]
        var hours: [Int64: Aggregate] = [:]
        var uniqueMinutes: [Int64: Set<UInt32>] = [:]
        var uniqueHours: [Int64: Set<UInt32>] = [:]
    }

    func testRandomOperationsMatchTheModel() {
        for (kind, seed) in [(AggregationKind.countUnique, 1), (.sum, 2), (.latest, 3), (.countUnique, 4), (.minimum, 5), (.count, 6)] as [(AggregationKind, UInt64)] {
            var random = SplitMix64(seed: seed)
            var store = SeriesStore(kind: kind, grouped: seed % 2 == 0)
            var model: [UInt64: ModelSeries] = [:]
            var sequence: UInt64 = 0
            for step in 0..<10_000 {
                let customer = UInt32.random(in: 0..<8, using: &random)
                let group = store.grouped ? UInt32.random(in: 0..<3, using: &random) : 0
                let key = SeriesStore.key(customer: customer, group: group)
                if step % 700 == 699 {
                    let cutoff = Int64.random(in: 0..<45, using: &random)
                    store.rollUp(beforeMinute: cutoff)
                    rollUp(&model, beforeMinute: cutoff, kind: kind)
                    check(store, model, "after roll-up to \(cutoff), step \(step), kind \(kind)")
                    continue
                }
                let series = store.seriesCreating(customer: customer, group: group)
                let tier: SeriesStore.Tier = Int.random(in: 0..<5, using: &random) == 0 ? .hours : .minutes
                // About 30 events per bucket: buckets with key % 3 == 0 get more than 16 distinct values (hash-set runs).
                let bucket = Int64.random(in: 0..<(tier == .minutes ? 40 : 3), using: &random)
                let units: Int128 = Int.random(in: 0..<50, using: &random) == 0 ? Int128.max / 3 : Int128(Int.random(in: -5...100, using: &random))
                let value: UInt32? = kind == .countUnique ? UInt32.random(in: 0..<(bucket % 3 == 0 ? 200 : 6), using: &random) : nil
                sequence += 1
                let timestamp = Int64.random(in: 0..<1000, using: &random)
                let (added, number) = store.add(units, series: series, tier: tier, key: bucket, uniqueValue: value.map { "v\($0)" },
                                                timestamp: timestamp, sequence: sequence, index: 0)
                var modelSeries = model[key] ?? ModelSeries()
                var aggregate = (tier == .minutes ? modelSeries.minutes[bucket] : modelSeries.hours[bucket]) ?? .empty
                let modelAdded = aggregate.add(units, kind: kind, timestamp: timestamp, sequence: sequence, index: 0)
                XCTAssertEqual(added, modelAdded)
                if modelAdded {
                    if tier == .minutes { modelSeries.minutes[bucket] = aggregate } else { modelSeries.hours[bucket] = aggregate }
                    if let number {
                        if tier == .minutes { modelSeries.uniqueMinutes[bucket, default: []].insert(number) } else { modelSeries.uniqueHours[bucket, default: []].insert(number) }
                    }
                }
                model[key] = modelSeries
                if step % 97 == 0 { check(store, model, "step \(step), kind \(kind)") }
            }
            check(store, model, "end, kind \(kind)")
        }
    }

    private func rollUp(_ model: inout [UInt64: ModelSeries], beforeMinute cutoff: Int64, kind: AggregationKind) {
        for (key, var series) in model {
            for minute in series.minutes.keys.sorted() where minute < cutoff {
                let hour = minute.flooredDivision(by: 60)
                guard let merged = (series.hours[hour] ?? .empty).merged(with: series.minutes[minute]!, kind: kind) else { break }
                series.hours[hour] = merged
                series.minutes[minute] = nil
                if let values = series.uniqueMinutes.removeValue(forKey: minute) { series.uniqueHours[hour, default: []].formUnion(values) }
            }
            model[key] = series
        }
    }

    private func check(_ store: SeriesStore, _ model: [UInt64: ModelSeries], _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(store.count, model.count, context, file: file, line: line)
        for series in 0..<store.count {
            let expected = model[store.keys[series]] ?? ModelSeries()
            for (tier, buckets, uniques) in [(SeriesStore.Tier.minutes, expected.minutes, expected.uniqueMinutes), (.hours, expected.hours, expected.uniqueHours)] {
                let run = store.run(series, tier)
                let actualKeys = (0..<run.count).map { store.pool.key(run, $0) }
                XCTAssertEqual(actualKeys, buckets.keys.sorted(), "\(context): keys of series \(series) \(tier)", file: file, line: line)
                guard actualKeys == buckets.keys.sorted() else { return }
                for position in 0..<run.count {
                    let bucket = actualKeys[position]
                    XCTAssertEqual(store.pool.aggregate(run, position), buckets[bucket], "\(context): bucket \(bucket)", file: file, line: line)
                    var values = Set<UInt32>()
                    store.pool.forEachUnique(at: Int(run.start) + position) { XCTAssertTrue(values.insert($0).inserted, "value listed twice") }
                    XCTAssertEqual(values, uniques[bucket] ?? [], "\(context): values of bucket \(bucket)", file: file, line: line)
                    XCTAssertEqual(store.pool.uniqueCount(at: Int(run.start) + position), values.count, context, file: file, line: line)
                }
            }
        }
    }

    func testInternedStringsNumberInFirstSeenOrderAndGrow() {
        var table = InternedStrings()
        for index in 0..<10_000 { XCTAssertEqual(table.intern("customer-\(index % 7_000)"), UInt32(index % 7_000)) }
        XCTAssertEqual(table.count, 7_000)
        XCTAssertEqual(table.value(for: "customer-6999"), 6_999)
        XCTAssertNil(table.value(for: "customer-7000"))
        XCTAssertEqual(table.strings[42], "customer-42")
        XCTAssertEqual(table.intern(""), 7_000)
        XCTAssertEqual(table.value(for: ""), 7_000)
    }

    /// Many distinct values per bucket (hash-set runs), rolled from minutes into hours, survive
    /// a snapshot byte for byte and give the same answers.
    func testSnapshotOfManyDistinctValuesAndRolledHoursRoundTrips() throws {
        let harness = Harness()
        try harness.create(MeterDefinition(eventName: "users", displayName: "Users", aggregation: Aggregation(kind: .countUnique, field: "user"), reset: .monthly, groupBy: ["region"]))
        for round in 0..<4 {
            let now = baseTime + Int64(round) * 40 * hour
            let events = (0..<300).map { index in
                // 25 distinct users per customer, region and minute; 50 in the hour before `now`.
                event("r\(round)-\(index)", "users", customer: "c\(index % 2)", at: now - Int64(index / 100) * minute,
                      ["user": .string("u\(index % 150)"), "region": .string(index % 4 < 2 ? "eu" : "us")])
            }
            harness.ingest(events, now: now)
        }
        let bytes = harness.machine.snapshot()
        let restored = try MeterStateMachine(snapshot: bytes)
        XCTAssertEqual(restored.snapshot(), bytes)
        let query = UsageQuery(tenantId: Tenant.defaultId, meter: .eventName("users"), fromMilliseconds: baseTime - 2 * 24 * hour,
                               toMilliseconds: baseTime + 8 * 24 * hour, windowSize: .hour, groupByCustomer: true, groupBy: ["region"])
        let answer = try harness.machine.usage(query).rows
        XCTAssertEqual(try restored.usage(query).rows, answer)
        XCTAssertEqual(answer.filter { $0.value == ExactDecimal(50) }.count, 16, "4 rounds x 2 customers x 2 regions with 50 distinct users in the hour before")
        XCTAssertEqual(answer.filter { $0.value == ExactDecimal(25) }.count, 16, "and 25 in the hour of `now`")
    }

    /// Fields only LATEST meters keep, on a bucket of another kind, are refused (they could not
    /// be written back): the reader refuses instead of dropping them.
    func testASnapshotWithTieBreakFieldsOnASumBucketIsRefused() throws {
        let harness = Harness()
        try harness.create(MeterDefinition(eventName: "tokens", displayName: "Tokens", aggregation: .sum("n")))
        harness.ingest([event("a", "tokens", ["n": .integer(5)])])
        var bytes = harness.machine.snapshot()
        // The bucket as the snapshot writes it, then the same with a tie-break timestamp.
        func bucket(latestTimestamp: Int64) -> [UInt8] {
            var writer = BinaryWriter()
            writer.write(signed: baseTime / minute)
            writer.write(signed: 1)
            writer.write(signed128: 5_000_000_000)
            writer.write(signed: latestTimestamp)
            writer.write(varint: 0)
            writer.write(varint: 0)
            return writer.bytes
        }
        let written = bucket(latestTimestamp: .min)
        guard let at = bytes.lastIndex(of: written) else { return XCTFail("the bucket is not in the snapshot") }
        XCTAssertNoThrow(try MeterStateMachine(snapshot: bytes))
        bytes.replaceSubrange(at..<(at + written.count), with: bucket(latestTimestamp: 7))
        XCTAssertThrowsError(try MeterStateMachine(snapshot: bytes)) { error in
            XCTAssertTrue("\(error)".contains("LATEST tie-break"), "\(error)")
        }
    }

    /// COUNT buckets keep no value (it is always 0): a snapshot giving one is refused.
    func testASnapshotWithAValueOnACountBucketIsRefused() throws {
        let harness = Harness()
        try harness.create(MeterDefinition(eventName: "calls", displayName: "Calls", aggregation: .count))
        harness.ingest([event("a", "calls", ["n": .integer(5)])])
        var bytes = harness.machine.snapshot()
        func bucket(value: Int128) -> [UInt8] {
            var writer = BinaryWriter()
            writer.write(signed: baseTime / minute)
            writer.write(signed: 1)
            writer.write(signed128: value)
            writer.write(signed: .min)
            writer.write(varint: 0)
            writer.write(varint: 0)
            return writer.bytes
        }
        let written = bucket(value: 0)
        guard let at = bytes.lastIndex(of: written) else { return XCTFail("the bucket is not in the snapshot") }
        XCTAssertNoThrow(try MeterStateMachine(snapshot: bytes))
        bytes.replaceSubrange(at..<(at + written.count), with: bucket(value: 5))
        XCTAssertThrowsError(try MeterStateMachine(snapshot: bytes)) { error in
            XCTAssertTrue("\(error)".contains("carries a value"), "\(error)")
        }
    }
}

private extension Array where Element: Equatable {
    func lastIndex(of pattern: [Element]) -> Int? {
        guard pattern.count <= count else { return nil }
        return (0...(count - pattern.count)).reversed().first { Array(self[$0..<($0 + pattern.count)]) == pattern }
    }
}
