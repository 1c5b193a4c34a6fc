import MeterCore
import XCTest

final class MeterValidationTests: XCTestCase {
    private func code(of definition: MeterDefinition) -> RejectionCode? {
        do {
            try MeterValidation.validate(definition)
            return nil
        } catch {
            XCTAssertFalse(error.message.isEmpty)
            return error.code
        }
    }

    private let valid = MeterDefinition(eventName: "tokens_used", displayName: "Tokens Used",
                                        filters: [MeterFilter(key: "model", values: ["llama3.1", "llama3.2"])],
                                        aggregation: .sum("tokens"), reset: .monthly)

    func testTheGuideExampleIsValid() {
        XCTAssertNil(code(of: valid))
    }

    /// `isValidIdentifier` checks eight bytes per step; it must agree with the byte-by-byte rule
    /// (1...maximum bytes, none below 0x20 or equal to 0x7F) at every length and position.
    func testIdentifierRuleAgreesWithTheByteByByteRule() {
        var generator = SystemRandomNumberGenerator()
        let interesting: [UInt8] = [0x00, 0x01, 0x1F, 0x20, 0x21, 0x41, 0x7E, 0x7F, 0x80, 0x9F, 0xA0, 0xFE, 0xFF]
        for round in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0x20...0x7E, using: &generator) }
            for _ in 0..<Int.random(in: 0...2, using: &generator) where length > 0 {
                bytes[Int.random(in: 0..<length, using: &generator)] = interesting.randomElement(using: &generator)!
            }
            let text = String(decoding: bytes, as: UTF8.self)   // invalid UTF-8 becomes U+FFFD (EF BF BD)
            let utf8 = Array(text.utf8)
            let expected = !utf8.isEmpty && utf8.count <= 32 && !utf8.contains { $0 < 0x20 || $0 == 0x7F }
            XCTAssertEqual(NameRules.isValidIdentifier(text, maximumBytes: 32), expected, "round \(round): \(utf8)")
        }
    }

    func testEventNameRules() {
        for good in ["a", "tokens_used", "orders.placed", "0x-1", String(repeating: "a", count: 64)] {
            var definition = valid
            definition.eventName = good
            XCTAssertNil(code(of: definition), good)
        }
        for bad in ["", "Tokens", "_leading", "-x", ".x", "has space", "émoji", "a/b", String(repeating: "a", count: 65)] {
            var definition = valid
            definition.eventName = bad
            XCTAssertEqual(code(of: definition), .invalidEventName, bad)
        }
    }

    func testTenantRules() {
        var definition = valid
        definition.tenantId = "Bad Tenant"
        XCTAssertEqual(code(of: definition), .invalidTenant)
    }

    func testDisplayNameRules() {
        for bad in ["", "   ", "tab\there", String(repeating: "x", count: 129)] {
            var definition = valid
            definition.displayName = bad
            XCTAssertEqual(code(of: definition), .invalidDisplayName, bad)
        }
        var definition = valid
        definition.displayName = String(repeating: "é", count: 128)
        XCTAssertNil(code(of: definition))
    }

    func testFilterRules() {
        let cases: [[MeterFilter]] = [
            [MeterFilter(key: "", values: ["a"])],
            [MeterFilter(key: "model", values: [])],
            [MeterFilter(key: "model", values: ["a", "a"])],
            [MeterFilter(key: "model", values: [""])],
            [MeterFilter(key: "model", values: ["a"]), MeterFilter(key: "model", values: ["b"])],
            (0..<17).map { MeterFilter(key: "k\($0)", values: ["v"]) },
            [MeterFilter(key: "model", values: (0..<65).map { "v\($0)" })],
        ]
        for filters in cases {
            var definition = valid
            definition.filters = filters
            XCTAssertEqual(code(of: definition), .invalidFilter, "\(filters)")
        }
    }

    func testAggregationRules() {
        let cases: [Aggregation] = [
            Aggregation(kind: .count, field: "tokens"),
            Aggregation(kind: .sum),
            Aggregation(kind: .average),
            Aggregation(kind: .countUnique),
            Aggregation(kind: .latest, field: "bad key"),
            Aggregation(kind: .maximum, field: "tokens", multiplier: decimal("2")),
            Aggregation(kind: .sum, field: "tokens", multiplier: decimal("0")),
            Aggregation(kind: .sum, field: "tokens", multiplier: decimal("-1.5")),
        ]
        for aggregation in cases {
            var definition = valid
            definition.aggregation = aggregation
            XCTAssertEqual(code(of: definition), .invalidAggregation, "\(aggregation)")
        }
        for kind in AggregationKind.allCases {
            var definition = valid
            definition.aggregation = Aggregation(kind: kind, field: kind == .count ? nil : "tokens")
            XCTAssertNil(code(of: definition), kind.rawValue)
        }
        var definition = valid
        definition.aggregation = .sum("tokens", multiplier: decimal("0.000002"))
        XCTAssertNil(code(of: definition))
    }

    func testResetRules() {
        var definition = valid
        definition.reset = .periodic(period: .monthly, anchorMilliseconds: baseTime + 30 * minute)
        XCTAssertEqual(code(of: definition), .invalidReset)
        definition.reset = .periodic(period: .monthly, anchorMilliseconds: -hour)
        XCTAssertEqual(code(of: definition), .invalidReset)
        definition.reset = .periodic(period: .annual, anchorMilliseconds: baseTime + 5 * hour)
        XCTAssertNil(code(of: definition))
    }

    /// Filters and group-by keys share one key rule; its messages name the key and the limit.
    func testKeyRuleMessagesNameTheKeyAndTheLimit() {
        func message(filters: [MeterFilter] = [], groupBy: [String] = []) -> String {
            var definition = valid
            definition.filters = filters
            definition.groupBy = groupBy
            do {
                try MeterValidation.validate(definition)
                return ""
            } catch {
                return error.message
            }
        }
        XCTAssertEqual(message(filters: [MeterFilter(key: "model", values: ["a"]), MeterFilter(key: "model", values: ["b"])]),
                       "filter key \"model\" appears twice; list all its values in one filter")
        XCTAssertEqual(message(filters: (0..<17).map { MeterFilter(key: "k\($0)", values: ["v"]) }), "at most 16 filters, got 17")
        XCTAssertEqual(message(groupBy: ["model", "model"]), "group-by key \"model\" appears twice")
        XCTAssertTrue(message(groupBy: ["bad key"]).hasPrefix("group-by key \"bad key\" is invalid: use "))
        XCTAssertEqual(message(groupBy: ["a", "b", "c", "d", "e"]), "at most 4 group-by keys, got 5")
    }

    func testGroupByRules() {
        for groupBy in [["a", "b", "c", "d", "e"], ["model", "model"], ["bad key"]] {
            var definition = valid
            definition.groupBy = groupBy
            XCTAssertEqual(code(of: definition), .invalidGroupBy, "\(groupBy)")
        }
    }

    func testEventNamesAreUniqueAmongActiveMetersAndArchivingFreesThem() throws {
        let harness = Harness()
        let first = try harness.create(valid)
        XCTAssertThrowsError(try harness.machine.validateCreate(valid)) { error in
            XCTAssertEqual((error as? MeterError)?.code, .meterAlreadyExists)
        }
        // A record that slips past validation is refused on apply, identically on every replay.
        guard case .refused(let error) = harness.apply(.meterCreated(valid, atMilliseconds: baseTime)) else {
            return XCTFail("duplicate meter applied")
        }
        XCTAssertEqual(error.code, .meterAlreadyExists)
        harness.apply(.meterArchived(tenantId: Tenant.defaultId, meterId: first.id, atMilliseconds: baseTime))
        let second = try harness.create(valid)
        XCTAssertNotEqual(first.id, second.id)
        XCTAssertEqual(harness.machine.meters(tenantId: Tenant.defaultId).map(\.status), [.archived, .active])
        XCTAssertEqual(try harness.machine.meter(tenantId: Tenant.defaultId, .eventName("tokens_used")).id, second.id)
    }

    func testSameEventNameInAnotherTenantIsIndependent() throws {
        let harness = Harness()
        try harness.create(valid)
        var other = valid
        other.tenantId = "globex"
        XCTAssertNoThrow(try harness.create(other))
    }

    func testOnlyTheDisplayNameChanges() throws {
        let harness = Harness()
        let meter = try harness.create(valid)
        guard case .meterUpdated(let updated) = harness.apply(.meterDisplayNameChanged(tenantId: Tenant.defaultId, meterId: meter.id, displayName: "Llama tokens", atMilliseconds: baseTime)) else {
            return XCTFail("not updated")
        }
        XCTAssertEqual(updated.definition.displayName, "Llama tokens")
        XCTAssertEqual(updated.definition.filters, valid.filters)
        XCTAssertThrowsError(try harness.machine.validateDisplayNameChange(tenantId: Tenant.defaultId, meterId: meter.id, displayName: "")) { error in
            XCTAssertEqual((error as? MeterError)?.code, .invalidDisplayName)
        }
        XCTAssertThrowsError(try harness.machine.validateDisplayNameChange(tenantId: "globex", meterId: meter.id, displayName: "x")) { error in
            XCTAssertEqual((error as? MeterError)?.code, .meterNotFound, "another tenant cannot see the meter")
        }
    }

    func testArchiveTwiceIsRefused() throws {
        let harness = Harness()
        let meter = try harness.create(valid)
        try harness.machine.validateArchive(tenantId: Tenant.defaultId, meterId: meter.id)
        harness.apply(.meterArchived(tenantId: Tenant.defaultId, meterId: meter.id, atMilliseconds: baseTime))
        XCTAssertThrowsError(try harness.machine.validateArchive(tenantId: Tenant.defaultId, meterId: meter.id)) { error in
            XCTAssertEqual((error as? MeterError)?.code, .meterArchived)
        }
        XCTAssertThrowsError(try harness.machine.validateArchive(tenantId: Tenant.defaultId, meterId: "mtr_999")) { error in
            XCTAssertEqual((error as? MeterError)?.code, .meterNotFound)
        }
    }

    func testConfigurationRefusesADedupWindowShorterThanTheLateWindow() {
        var configuration = MeterCoreConfiguration()
        XCTAssertEqual(configuration.problems, [])
        configuration.dedupWindowMilliseconds = configuration.lateWindowMilliseconds
        XCTAssertEqual(configuration.problems.count, 1)
        configuration = MeterCoreConfiguration()
        configuration.minuteRetentionMilliseconds = configuration.lateWindowMilliseconds
        XCTAssertEqual(configuration.problems.count, 1)
    }
}
