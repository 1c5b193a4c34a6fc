// Randomized differential test: MeterStateMachine against the naive OracleModel.
//
// One seeded scenario (two tenants, meters of every aggregation kind created, archived and
// re-created, thousands of events with late, future, rejected and duplicate ones, time jumps
// past the minute retention so usage rolls up into hours) is driven through both; every
// screening, apply outcome, query answer, current usage, meter list and counter must agree.
// Afterwards the log is replayed (through RecordCodec) into a fresh state machine, which must
// reach identical snapshot bytes, and a restored snapshot must answer identically.
//
// Reproduce a failure with METERD_TEST_SEED=<seed printed in the message>.

import Foundation
import MeterCore
import MeterTestSupport
import XCTest

/// A thin wrapper over the seeded SplitMix64 generator with the draws the scenario needs.
struct OracleRandom {
    var generator: SplitMix64

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &generator) < probability
    }

    mutating func int(_ range: ClosedRange<Int64>) -> Int64 {
        Int64.random(in: range, using: &generator)
    }

    mutating func int(_ range: Range<Int>) -> Int {
        Int.random(in: range, using: &generator)
    }

    mutating func pick<T>(_ values: [T]) -> T {
        values[Int.random(in: 0..<values.count, using: &generator)]
    }

    /// A random non-empty subset of `values`, in random order.
    mutating func subset<T>(_ values: [T], atMost limit: Int = .max) -> [T] {
        let shuffled = values.shuffled(using: &generator)
        return Array(shuffled.prefix(int(1..<(Swift.min(limit, values.count) + 1))))
    }
}

/// Ends a scenario early once it has diverged too often to say anything more.
struct OracleDivergence: Error {}

final class OracleScenario {
    static let configuration: MeterCoreConfiguration = {
        var configuration = MeterCoreConfiguration()
        configuration.lateWindowMilliseconds = 2 * hour
        configuration.futureSkewMilliseconds = 5 * minute
        configuration.dedupWindowMilliseconds = 3 * hour
        configuration.minuteRetentionMilliseconds = 4 * hour
        return configuration
    }()

    static let tenants = ["acme", "globex"]
    static let meteredNames = ["api_calls", "tokens", "storage_gb", "seats", "jobs"]
    static let customers = ["cust-a", "cust-b", "Zulu", "émile", "c9"]
    static let groupKeys = ["region", "tier", "model", "premium", "user"]
    /// Canonical texts filters and group filters choose from (some never occur).
    static let valueUniverse: [String: [String]] = [
        "region": ["us", "eu", "ap", "mars"],
        "tier": ["1", "2", "3", "1.5"],
        "model": ["gpt", "llama", "mistral"],
        "premium": ["true", "false"],
        "user": ["u1", "u2", "u3", "3", "0"],
    ]
    static let multipliers = ["1.5", "0.000002", "3", "0.333333333", "1000", "0.5", "2.000000001"]

    let seed: UInt64
    let batchesPerRound: Int
    let rounds: Int
    let queriesPerRound: Int
    var random: OracleRandom
    var machine: MeterStateMachine
    let oracle: OracleModel
    var sequence: UInt64 = 0
    /// Every record applied, its log position and the machine's outcome, for replay.
    var log: [(record: StateRecord, sequence: UInt64, outcome: ApplyOutcome)] = []
    let startTime: Int64
    var now: Int64
    var nextEventNumber = 0
    var recentIds: [String: [String]] = [:]
    var meterNumber = 0
    var lastTimestamp: Int64?
    var lastEvent: UsageEvent?
    var dedupBoundaryProbes = 0

    // Bookkeeping: how many comparisons ran, and coverage of interesting cases.
    var checks = 0
    var failures = 0
    var eventsGenerated = 0
    var screenings: [OracleScreening: Int] = [:]
    var outcomes: [EventOutcome: Int] = [:]
    var answers: [String: Int] = [:]
    var rowsCompared = 0
    var rowsWithUsage = 0
    var answeredInHourResolution = 0
    var currentUsageChecks = 0
    var largestJump: Int64 = 0

    init(seed: UInt64, rounds: Int = 10, batchesPerRound: Int = 32, queriesPerRound: Int = 36) {
        self.seed = seed
        self.rounds = rounds
        self.batchesPerRound = batchesPerRound
        self.queriesPerRound = queriesPerRound
        // Mixed with a constant of this test, so it does not share a sequence with other seeded tests.
        random = OracleRandom(generator: SplitMix64(seed: seed ^ 0x0AC1_E000_7E57_5EED))
        machine = MeterStateMachine(configuration: Self.configuration)
        oracle = OracleModel(configuration: Self.configuration)
        // Somewhere in January 2026, at an arbitrary millisecond.
        startTime = baseTime + random.int(0...(20 * 24 * hour))
        now = startTime
    }

    var reproduce: String { "seed \(seed) (rerun with METERD_TEST_SEED=\(seed))" }

    // MARK: Checking

    func check<T: Equatable>(_ actual: T, _ expected: T, _ context: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line) {
        checks += 1
        guard actual != expected else { return }
        failures += 1
        XCTFail("\(reproduce), at \(CivilTime.rfc3339(milliseconds: now)): \(context())\n  machine: \(actual)\n  oracle:  \(expected)", file: file, line: line)
    }

    func checkRows(_ actual: OracleAnswer<[UsageRow]>, _ expected: OracleAnswer<[UsageRow]>, _ context: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line) {
        checks += 1
        if case .value(let rows) = expected {
            rowsCompared += rows.count
            rowsWithUsage += rows.filter { $0.eventCount > 0 }.count
        }
        guard actual != expected else { return }
        failures += 1
        var detail = ""
        if case .value(let machineRows) = actual, case .value(let oracleRows) = expected {
            detail = "row counts \(machineRows.count) vs \(oracleRows.count)"
            if let index = machineRows.indices.first(where: { $0 < oracleRows.count && machineRows[$0] != oracleRows[$0] }) {
                detail += "; first difference at row \(index):\n  machine: \(machineRows[index])\n  oracle:  \(oracleRows[index])"
            } else {
                detail += "; extra rows: \(machineRows.count > oracleRows.count ? machineRows.dropFirst(oracleRows.count).prefix(3).map(String.init(describing:)) : oracleRows.dropFirst(machineRows.count).prefix(3).map(String.init(describing:)))"
            }
        } else {
            detail = "\n  machine: \(summary(actual))\n  oracle:  \(summary(expected))"
        }
        XCTFail("\(reproduce), at \(CivilTime.rfc3339(milliseconds: now)): \(context()): \(detail)", file: file, line: line)
    }

    private func summary(_ answer: OracleAnswer<[UsageRow]>) -> String {
        switch answer {
        case .failure(let code): return "throws \(code.name)"
        case .value(let rows): return "\(rows.count) rows, first \(rows.first.map(String.init(describing:)) ?? "-")"
        }
    }

    func stopIfDiverged() throws {
        if failures >= 12 { throw OracleDivergence() }
    }

    // MARK: Records

    @discardableResult
    func apply(_ record: StateRecord, _ context: @autoclosure () -> String) -> ApplyOutcome {
        sequence += random.chance(0.05) ? 2 : 1
        // Every other record goes in as the log holds it, so the oracle checks both the decoded
        // path and decode-into-apply (`apply(logRecordType:payload:sequence:)`); the replay test
        // then replays each record by the other path as well.
        let actual: ApplyOutcome
        if sequence % 2 == 0 {
            let encoded = RecordCodec.encode(record)
            do {
                actual = try machine.apply(logRecordType: encoded.type, payload: encoded.payload, sequence: sequence)
            } catch {
                XCTFail("record at \(sequence) does not decode: \(error); \(reproduce)")
                actual = machine.apply(record, sequence: sequence)
            }
        } else {
            actual = machine.apply(record, sequence: sequence)
        }
        let expected = oracle.apply(record, sequence: sequence)
        check(OracleApplyOutcome(actual), expected, "apply at log position \(sequence): \(context())")
        log.append((record, sequence, actual))
        if case .events(let list) = actual {
            for outcome in list { outcomes[outcome, default: 0] += 1 }
        }
        return actual
    }

    // MARK: Meters

    /// `multiplier`: nil for a random choice, "" for none, else the multiplier's text.
    func randomDefinition(tenant: String, eventName: String, kind: AggregationKind? = nil, multiplier: String? = nil, cumulative: Bool? = nil,
                          lenient: Bool = false) -> MeterDefinition {
        meterNumber += 1
        let kind = kind ?? random.pick(AggregationKind.allCases)
        var aggregation = Aggregation(kind: kind)
        switch kind {
        case .count: break
        case .countUnique: aggregation.field = random.pick(["user", "user", "user", "value", "region"])
        default: aggregation.field = random.chance(0.75) ? "value" : "n"
        }
        if kind == .sum {
            let text = multiplier ?? (random.chance(0.5) ? "" : random.chance(0.08) ? "1000000000000" : random.pick(Self.multipliers))
            aggregation.multiplier = text.isEmpty ? nil : decimal(text)
        }
        let reset: ResetPolicy
        if cumulative ?? random.chance(0.45) {
            reset = .cumulative
        } else {
            let anchor: Int64
            if random.chance(0.2) {
                anchor = 1_738_317_600_000  // 2025-01-31T10:00:00Z: the day clamps in shorter months.
            } else {
                anchor = oracleFloorDiv(startTime, hour) * hour + random.int(-(90 * 24)...(60 * 24)) * hour
            }
            reset = .periodic(period: random.pick(BillingPeriod.allCases), anchorMilliseconds: anchor)
        }
        var filters: [MeterFilter] = []
        // Filters list most of their key's values, so that filtered meters still count a fair share.
        let filterCount = random.chance(lenient ? 0.75 : 0.5) ? 0 : (lenient || random.chance(0.7) ? 1 : 2)
        for key in Self.groupKeys.shuffled(using: &random.generator).prefix(filterCount) {
            let universe = Self.valueUniverse[key]!
            let values = !lenient && random.chance(0.3) ? random.subset(universe) : Array(universe.shuffled(using: &random.generator).dropLast())
            filters.append(MeterFilter(key: key, values: values))
        }
        let groupBy = random.chance(0.35) ? [] : random.subset(Self.groupKeys, atMost: 3)
        return MeterDefinition(tenantId: tenant, eventName: eventName, displayName: "Meter \(meterNumber)", filters: filters,
                               aggregation: aggregation, reset: reset, groupBy: groupBy)
    }

    func create(_ definition: MeterDefinition) {
        var validation: RejectionCode?
        do throws(MeterError) { try machine.validateCreate(definition) } catch { validation = error.code }
        check(validation, oracle.createRefusal(definition), "validateCreate \(definition.tenantId)/\(definition.eventName)")
        apply(.meterCreated(definition, atMilliseconds: now), "create \(definition)")
    }

    func archive(tenant: String, meterId: String) {
        var validation: RejectionCode?
        do throws(MeterError) { try machine.validateArchive(tenantId: tenant, meterId: meterId) } catch { validation = error.code }
        check(validation, oracle.archiveRefusal(tenantId: tenant, meterId: meterId), "validateArchive \(tenant)/\(meterId)")
        apply(.meterArchived(tenantId: tenant, meterId: meterId, atMilliseconds: now), "archive \(tenant)/\(meterId)")
    }

    func setUpMeters() {
        // Every aggregation kind; SUM without and twice with a multiplier (one fractional, so the product of the
        // exact sum is rounded); running totals for the kinds whose merging is subtle (distinct values, ties).
        var specs: [(kind: AggregationKind, multiplier: String?, cumulative: Bool?)] = [
            (.count, nil, true), (.sum, "", false), (.sum, random.pick(["0.333333333", "1.5", "0.000002", "2.000000001"]), true),
            (.sum, random.pick(Self.multipliers + ["1000000000000", "1000000000000"]), false), (.average, nil, nil), (.minimum, nil, nil),
            (.maximum, nil, nil), (.countUnique, nil, true), (.latest, nil, true), (.latest, nil, false),
        ]
        specs.shuffle(using: &random.generator)
        for (index, spec) in specs.enumerated() {
            let tenant = Self.tenants[index / Self.meteredNames.count], name = Self.meteredNames[index % Self.meteredNames.count]
            create(randomDefinition(tenant: tenant, eventName: name, kind: spec.kind, multiplier: spec.multiplier, cumulative: spec.cumulative, lenient: true))
        }
    }

    /// Archives the active meter of a name that already has an archived one, without re-creating it.
    func archiveRecreatedName() {
        let names = Dictionary(grouping: oracle.meters, by: { "\($0.definition.tenantId)/\($0.definition.eventName)" })
        let candidates = names.values.filter { $0.count >= 2 }.compactMap { $0.first { $0.status == .active } }
        guard !candidates.isEmpty else { return }
        let target = random.pick(candidates.sorted { $0.id < $1.id })
        archive(tenant: target.definition.tenantId, meterId: target.id)
    }

    func activeMeters(_ tenant: String) -> [OracleModel.MeterEntry] {
        oracle.meters.filter { $0.definition.tenantId == tenant && $0.status == .active }
    }

    func meterOperation(forceRecreate: Bool = false) {
        let tenant = random.pick(Self.tenants)
        let active = activeMeters(tenant)
        let roll = forceRecreate ? 0 : random.int(0..<100)
        switch roll {
        case 0..<35 where !active.isEmpty:
            // Archive, then usually re-create a meter with the same event name right away.
            let target = random.pick(active)
            archive(tenant: tenant, meterId: target.id)
            if forceRecreate || random.chance(0.6) {
                create(randomDefinition(tenant: tenant, eventName: target.definition.eventName))
            }
        case 0..<55:
            let free = Self.meteredNames.filter { name in !active.contains { $0.definition.eventName == name } }
            if let name = free.isEmpty ? nil : random.pick(free) {
                create(randomDefinition(tenant: tenant, eventName: name))
            } else {
                create(randomDefinition(tenant: tenant, eventName: random.pick(Self.meteredNames)))  // refused: name taken
            }
        case 55..<65 where !active.isEmpty:
            create(randomDefinition(tenant: tenant, eventName: random.pick(active).definition.eventName))  // refused: name taken
        case 55..<75:
            var definition = randomDefinition(tenant: tenant, eventName: random.pick(Self.meteredNames))
            if random.chance(0.5) {
                definition.displayName = random.pick(["", "   "])
            } else {
                definition.aggregation = Aggregation(kind: .count, field: "value")
            }
            create(definition)  // refused: invalid definition
        case 75..<85:
            let archived = oracle.meters.filter { $0.definition.tenantId == tenant && $0.status == .archived }
            let other = oracle.meters.filter { $0.definition.tenantId != tenant }
            if !archived.isEmpty && random.chance(0.6) {
                archive(tenant: tenant, meterId: random.pick(archived).id)  // refused: already archived
            } else if !other.isEmpty && random.chance(0.7) {
                archive(tenant: tenant, meterId: random.pick(other).id)  // refused: another tenant's meter
            } else {
                archive(tenant: tenant, meterId: "mtr_99999")
            }
        default:
            let mine = oracle.meters.filter { $0.definition.tenantId == tenant }
            guard !mine.isEmpty else { return }
            let target = random.pick(mine)
            let name = random.chance(0.8) ? "Renamed \(random.int(0...999))" : random.pick(["", " \t "])
            var validation: RejectionCode?
            do throws(MeterError) { try machine.validateDisplayNameChange(tenantId: tenant, meterId: target.id, displayName: name) } catch { validation = error.code }
            check(validation, oracle.displayNameRefusal(tenantId: tenant, meterId: target.id, displayName: name), "validateDisplayNameChange")
            apply(.meterDisplayNameChanged(tenantId: tenant, meterId: target.id, displayName: name, atMilliseconds: now), "rename \(target.id) to \(name)")
        }
    }

    // MARK: Events

    func randomNumber() -> PropertyValue {
        let roll = random.int(0..<1000)
        switch roll {
        case 0..<4:
            return .decimal(decimal(random.chance(0.5) ? "99999999999999999999.999999999" : "-12345678901234567890.5"))
        case 4..<350:
            return .integer(random.int(-20...500))
        case 350..<650:
            let digits = Int64(random.int(0..<10))
            var scale: Int128 = 1
            for _ in 0..<(9 - digits) { scale *= 10 }
            var fractionLimit: Int64 = 1
            for _ in 0..<digits { fractionLimit *= 10 }
            let units = Int128(random.int(-50...5000)) * 1_000_000_000 + Int128(random.int(0...(fractionLimit - 1))) * scale
            return .decimal(ExactDecimal(units: units))
        case 650..<780:
            let value = ExactDecimal(units: Int128(random.int(-1000...90_000)) * 1_000_000)
            return .string(random.pick([value.description, value.description + (value.description.contains(".") ? "000" : ".000"), "1e2", "+7", ".5", "25E-1"]))
        case 780..<880:
            return .string(random.pick(["n/a", "", "1,5", "12 ", "NaN"]))
        default:
            return .boolean(random.chance(0.5))
        }
    }

    func randomProperties() -> [EventProperty] {
        var properties: [EventProperty] = []
        func maybe(_ key: String, _ probability: Double, _ value: @autoclosure () -> PropertyValue) {
            if random.chance(probability) { properties.append(EventProperty(key: key, value: value())) }
        }
        maybe("region", 0.75, .string(self.random.chance(0.05) ? "" : self.random.pick(["us", "eu", "ap"])))
        maybe("tier", 0.6, self.random.pick([.integer(1), .integer(2), .integer(3), .string("2"), .decimal(decimal("3.0")), .decimal(decimal("1.5")), .string("1.50")]))
        maybe("model", 0.55, .string(self.random.pick(["gpt", "llama", "mistral"])))
        maybe("premium", 0.45, .boolean(self.random.chance(0.5)))
        maybe("value", 0.85, self.randomNumber())
        maybe("n", 0.5, .integer(self.random.int(-3...50)))
        maybe("user", 0.65, self.random.pick([.string("u\(self.random.int(0...11))"), .integer(self.random.int(0...4)), .string("3"), .decimal(decimal("0.000000001"))]))
        maybe("trace", 0.15, .string("t\(self.random.int(0...99999))"))
        properties.shuffle(using: &random.generator)
        if random.chance(0.008) { properties.append(EventProperty(key: "bad key", value: .integer(1))) }
        if random.chance(0.008), let first = properties.first { properties.append(EventProperty(key: first.key, value: .integer(9))) }
        return properties
    }

    func randomTimestamp() -> Int64 {
        let timestamp = freshTimestamp()
        lastTimestamp = timestamp
        return timestamp
    }

    private func freshTimestamp() -> Int64 {
        let late = Self.configuration.lateWindowMilliseconds, skew = Self.configuration.futureSkewMilliseconds
        // Ties: LATEST breaks equal timestamps by log position, then by position in the batch.
        if let lastTimestamp, random.chance(0.12) { return lastTimestamp }
        if random.chance(0.04) { return oracleFloorDiv(now, minute) * minute }
        let roll = random.int(0..<1000)
        switch roll {
        case 0..<700: return now - random.int(0...(40 * minute))
        case 700..<820: return now - random.int((40 * minute)...late)
        case 820..<880: return now + random.int(0...skew)
        case 880..<900: return random.pick([now - late, now + skew, now - late + 1, now + skew - 1])
        case 900..<950: return now - late - random.int(1...(5 * hour))
        case 950..<990: return now + skew + random.int(1...(2 * hour))
        default: return random.pick([now - late - 1, now + skew + 1])
        }
    }

    func randomEvent(tenant: String) -> UsageEvent {
        eventsGenerated += 1
        var eventId: String
        let idRoll = random.int(0..<1000)
        let recent = recentIds[tenant, default: []]
        let other = recentIds[tenant == Self.tenants[0] ? Self.tenants[1] : Self.tenants[0], default: []]
        if idRoll < 90 && !recent.isEmpty {
            eventId = random.pick(recent)  // a retry: duplicate inside the dedup window, or new again after it
        } else if idRoll < 110 && !other.isEmpty {
            eventId = random.pick(other)  // the same id in another tenant is a different event
        } else if idRoll < 116 {
            eventId = random.pick(["", "bad\nid", String(repeating: "x", count: 129)])
        } else {
            nextEventNumber += 1
            eventId = "ev-\(nextEventNumber)"
        }
        recentIds[tenant, default: []].append(eventId)
        if recentIds[tenant]!.count > 600 { recentIds[tenant]!.removeFirst(100) }
        let nameRoll = random.int(0..<100)
        let name = nameRoll < 6 ? "orphan_event" : nameRoll < 7 ? "Bad Name" : random.pick(Self.meteredNames)
        let customer = random.chance(0.005) ? "" : random.pick(Self.customers)
        var event = UsageEvent(eventId: eventId, eventName: name, customerId: customer, timestampMilliseconds: randomTimestamp(),
                               properties: randomProperties())
        if random.chance(0.1) { event.source = random.chance(0.05) ? "" : "svc-\(random.int(0...3))" }
        return event
    }

    func randomBatch(tenant: String) -> [UsageEvent] {
        var batch: [UsageEvent] = []
        let size = random.chance(0.1) ? random.int(40..<80) : random.int(1..<26)
        for _ in 0..<size {
            if let previous = batch.last ?? lastEvent, random.chance(0.1) {
                // A twin: same name and timestamp (a LATEST tie), another id and value; usually the same
                // customer and groups, else another customer (a tie between series merged by the query).
                var twin = previous
                if random.chance(0.5) { twin.customerId = random.pick(Self.customers) }
                nextEventNumber += 1
                twin.eventId = "ev-\(nextEventNumber)"
                twin.properties = twin.properties.map { property in
                    switch property.key {
                    case "value": return EventProperty(key: "value", value: randomNumber())
                    case "n": return EventProperty(key: "n", value: .integer(random.int(-3...50)))
                    default: return property
                    }
                }
                batch.append(twin)
                eventsGenerated += 1
            } else if !batch.isEmpty && random.chance(0.05) {
                var copy = random.pick(batch)  // same id in the same batch: a duplicate, whatever its content
                if random.chance(0.5) { copy.properties = randomProperties() }
                batch.append(copy)
            } else {
                batch.append(randomEvent(tenant: tenant))
            }
        }
        lastEvent = batch.last
        return batch
    }

    func ingest() {
        let tenant = random.pick(Self.tenants)
        // Sometimes a group commit: several requests screened before any is applied.
        let requestCount = random.chance(0.12) ? random.int(2..<4) : 1
        ingest(tenant: tenant, batches: (0..<requestCount).map { _ in randomBatch(tenant: tenant) })
    }

    /// Screens the requests of one group commit, then applies the accepted events. `rawExtras` are added
    /// unscreened to the first record (a record carrying an id the state machine still remembers).
    func ingest(tenant: String, batches: [[UsageEvent]], rawExtras: [UsageEvent] = []) {
        // Screen every request of the group before applying any, with the engine's pending-id set or a plain Set.
        let machineScreenings: [[EventScreening]]
        if random.chance(0.5) {
            var pending = PendingEventIds()
            machineScreenings = batches.map { machine.screen($0, tenantId: tenant, nowMilliseconds: now, pendingEventIds: &pending) }
        } else {
            var pending = Set<String>()
            machineScreenings = batches.map { machine.screen($0, tenantId: tenant, nowMilliseconds: now, pendingEventIds: &pending) }
        }
        var oraclePending = Set<String>()
        var records: [[UsageEvent]] = []
        for (request, batch) in batches.enumerated() {
            let screened = machineScreenings[request]
            let expected = oracle.screen(batch, tenantId: tenant, nowMilliseconds: now, pending: &oraclePending)
            check(screened.map(OracleScreening.init), expected, "screen request \(request) for \(tenant): \(batch.map(\.eventId))")
            for item in expected { screenings[item, default: 0] += 1 }
            var accepted = zip(batch, screened).filter { $0.1 == .accept }.map(\.0)
            // A record may still carry a duplicate (of this record or of a recent one): apply must drop it.
            if random.chance(0.04), !accepted.isEmpty {
                accepted.insert(random.pick(accepted), at: random.int(0..<(accepted.count + 1)))
            }
            if random.chance(0.04), let old = oracle.events.last(where: { $0.tenantId == tenant }) {
                accepted.append(old.event)
            }
            if request == 0 { accepted += rawExtras }
            if !accepted.isEmpty { records.append(accepted) }
        }
        for events in records {
            apply(.eventsAccepted(tenantId: tenant, acceptedAtMilliseconds: now, events: events), "\(events.count) events for \(tenant)")
        }
    }

    /// Moves to exactly the end of (or just past) the dedup window of an earlier record and resends its ids,
    /// twice at the same time, so both the screening and the expiry of remembered ids meet their boundary.
    func probeDedupBoundary() {
        let dedup = Self.configuration.dedupWindowMilliseconds
        let candidates = log.compactMap { entry -> (tenant: String, at: Int64, events: [UsageEvent])? in
            guard case .eventsAccepted(let tenant, let at, let events) = entry.record, at + dedup - 1 >= now else { return nil }
            return (tenant, at, events)
        }
        guard !candidates.isEmpty else { return }
        let target = random.pick(candidates)
        // Every other probe lands exactly on the boundary, where the id is still remembered.
        now = max(now, target.at + dedup + (dedupBoundaryProbes % 2 == 0 ? 0 : random.pick([-1, 0, 1])))
        dedupBoundaryProbes += 1
        for attempt in 0..<2 {
            var batch = randomBatch(tenant: target.tenant)
            for original in target.events.shuffled(using: &random.generator).prefix(6) {
                var resent = randomEvent(tenant: target.tenant)
                resent.eventId = original.eventId
                batch.insert(resent, at: random.int(0..<(batch.count + 1)))
            }
            // The first record also carries some original events unscreened: apply must apply the same boundary.
            let extras = attempt == 0 ? Array(target.events.prefix(3)) : []
            ingest(tenant: target.tenant, batches: [batch], rawExtras: extras)
        }
    }

    func advanceTime(forcedJump: Int64? = nil) {
        let roll = random.int(0..<1000)
        let step: Int64
        if let forcedJump {
            step = forcedJump
        } else {
            switch roll {
            case 0..<150: step = 0
            case 150..<600: step = random.int(1...(3 * minute))
            case 600..<850: step = random.int((3 * minute)...(30 * minute))
            case 850..<960: step = random.int((30 * minute)...(3 * hour))
            case 960..<995: step = random.int((4 * hour)...(30 * hour))
            default: step = random.int((2 * 24 * hour)...(20 * 24 * hour))
            }
        }
        largestJump = max(largestJump, step)
        now += step
    }

    // MARK: Queries

    func randomReference(tenant: String) -> MeterReference {
        let roll = random.int(0..<100)
        let mine = oracle.meters.filter { $0.definition.tenantId == tenant }
        let others = oracle.meters.filter { $0.definition.tenantId != tenant }
        switch roll {
        case 0..<60 where !mine.isEmpty: return .id(random.pick(mine).id)
        case 0..<90: return .eventName(random.chance(0.08) ? "orphan_event" : random.pick(Self.meteredNames))
        case 90..<96 where !others.isEmpty: return .id(random.pick(others).id)
        default: return .id("mtr_\(random.int(0...99999))")
        }
    }

    func approximateWindowCount(_ from: Int64, _ to: Int64, _ size: WindowSize) -> Int64 {
        (to - from) / (size.fixedLengthMilliseconds ?? 28 * 24 * hour) + 2
    }

    func randomQuery(tenant: String) -> UsageQuery {
        let reference = randomReference(tenant: tenant)
        let entry = oracle.resolve(tenantId: tenant, reference)
        var from: Int64, to: Int64
        switch random.int(0..<10) {
        case 0..<4:
            from = now - random.int(0...(6 * hour))
            to = from + random.int(1...(8 * hour))
        case 4..<8:
            from = random.int((startTime - 2 * 24 * hour)...(now + hour))
            to = from + random.int(minute...(random.chance(0.5) ? 12 * hour : 25 * 24 * hour))
        default:
            let size = random.pick([WindowSize.day, .week, .month])
            from = size.windowStart(containing: random.int((startTime - 24 * hour)...(now + hour)))
            to = from
            for _ in 0..<random.int(1..<4) { to = size.windowEnd(startingAt: to) }
        }
        from = oracleFloorDiv(from, minute) * minute
        to = oracleFloorDiv(to, minute) * minute
        if random.chance(0.4) {
            from = oracleFloorDiv(from, hour) * hour
            to = oracleFloorDiv(to + hour - 1, hour) * hour
        }
        if to <= from { to = from + minute }
        var windowSize: WindowSize? = nil
        if random.chance(0.75) {
            let candidates = WindowSize.allCases.filter { approximateWindowCount(from, to, $0) <= 200 }
            windowSize = candidates.isEmpty ? nil : random.pick(candidates)
        }
        // Mostly ask what the hour-resolution past can answer: whole hours, windows of an hour or more.
        if let cutoff = oracle.hourResolutionBeforeMilliseconds, from < cutoff, random.chance(0.85) {
            from = oracleFloorDiv(from, hour) * hour
            if to < cutoff { to = oracleFloorDiv(to + hour - 1, hour) * hour }
            if let size = windowSize, size.fixedLengthMilliseconds.map({ $0 < hour }) ?? false {
                windowSize = random.pick([nil, .hour, .threeHours, .day])
                if let size = windowSize, approximateWindowCount(from, to, size) > 400 { windowSize = .day }
            }
        }
        var query = UsageQuery(tenantId: tenant, meter: reference, fromMilliseconds: from, toMilliseconds: to, windowSize: windowSize)
        if random.chance(0.25) { query.customerId = random.chance(0.15) ? "nobody" : random.pick(Self.customers) }
        query.groupByCustomer = random.chance(0.4)
        if let entry, !entry.definition.groupBy.isEmpty, random.chance(0.6) {
            query.groupBy = random.subset(entry.definition.groupBy)
        }
        if let entry, !entry.definition.groupBy.isEmpty, random.chance(0.25) {
            let key = random.pick(entry.definition.groupBy)
            query.groupFilters = [MeterFilter(key: key, values: random.subset(Self.valueUniverse[key]! + [""]))]
        }
        // A few invalid queries, one defect at a time.
        if random.chance(0.07) {
            switch random.int(0..<7) {
            case 0: query.fromMilliseconds += 30_000
            case 1: query.toMilliseconds = query.fromMilliseconds - random.pick([0, minute])
            case 2: query.groupBy.append("no_such_key")
            case 3: if let first = query.groupBy.first { query.groupBy.append(first) } else { query.groupBy = ["trace"] }
            case 4: query.groupFilters = [MeterFilter(key: "trace", values: ["t1"])]
            case 5:
                query.windowSize = .minute
                query.toMilliseconds = query.fromMilliseconds + Int64(UsageQuery.windowsMaximumCount + 1) * minute
            default: query.fromMilliseconds = -hour
            }
        }
        return query
    }

    func describe(_ query: UsageQuery) -> String {
        "usage \(query.tenantId) \(query.meter) [\(CivilTime.rfc3339(milliseconds: query.fromMilliseconds)), \(CivilTime.rfc3339(milliseconds: query.toMilliseconds))) "
            + "window \(query.windowSize?.rawValue ?? "-") customer \(query.customerId ?? "-") byCustomer \(query.groupByCustomer) "
            + "groupBy \(query.groupBy) filters \(query.groupFilters.map { "\($0.key)=\($0.values)" })"
    }

    func machineAnswer(_ machine: MeterStateMachine, _ query: UsageQuery) -> (answer: OracleAnswer<[UsageRow]>, meter: Meter?) {
        do throws(MeterError) {
            let result = try machine.usage(query)
            return (.value(result.rows), result.meter)
        } catch {
            return (.failure(error.code), nil)
        }
    }

    func checkQuery(_ query: UsageQuery) {
        let expected = oracle.usage(query)
        let (actual, meter) = machineAnswer(machine, query)
        checkRows(actual, expected, describe(query))
        switch expected {
        case .value:
            answers["rows", default: 0] += 1
            if let cutoff = oracle.hourResolutionBeforeMilliseconds, query.fromMilliseconds < cutoff { answeredInHourResolution += 1 }
            if let meter, let entry = oracle.resolve(tenantId: query.tenantId, query.meter) {
                check(meter, oracle.publicMeter(entry), "meter of \(describe(query))")
            }
        case .failure(let code):
            answers[code.name, default: 0] += 1
        }
    }

    func checkCurrentUsage() {
        let tenant = random.pick(Self.tenants)
        let reference = randomReference(tenant: tenant)
        let customer: String? = random.chance(0.5) ? random.pick(Self.customers + ["nobody"]) : nil
        let at: Int64
        switch random.int(0..<10) {
        case 0..<6: at = now - random.int(0...(3 * hour))
        case 6..<9: at = random.int((startTime - 24 * hour)...now)
        default: at = now + random.int(0...(40 * 24 * hour))
        }
        let expected = oracle.currentUsage(tenantId: tenant, meter: reference, customerId: customer, atMilliseconds: at)
        let actual: OracleAnswer<UsageRow>
        do throws(MeterError) {
            actual = .value(try machine.currentUsage(tenantId: tenant, meter: reference, customerId: customer, atMilliseconds: at))
        } catch {
            actual = .failure(error.code)
        }
        currentUsageChecks += 1
        check(actual, expected, "currentUsage \(tenant) \(reference) customer \(customer ?? "-") at \(CivilTime.rfc3339(milliseconds: at))")
    }

    func checkMeters() {
        for tenant in Self.tenants {
            check(machine.meters(tenantId: tenant), oracle.meterList(tenantId: tenant, includeArchived: true), "meters of \(tenant)")
            check(machine.meters(tenantId: tenant, includeArchived: false), oracle.meterList(tenantId: tenant, includeArchived: false), "active meters of \(tenant)")
            check(machine.eventsWithoutMeter(tenantId: tenant), oracle.eventsWithoutMeter(tenantId: tenant), "eventsWithoutMeter of \(tenant)")
            for name in Self.meteredNames + ["orphan_event"] {
                let resolved: String?
                do throws(MeterError) { resolved = try machine.meter(tenantId: tenant, .eventName(name)).id } catch { resolved = nil }
                check(resolved, oracle.resolve(tenantId: tenant, .eventName(name))?.id, "meter named \(name) in \(tenant)")
            }
        }
        check(machine.highWaterMilliseconds, oracle.highWaterMilliseconds, "high water")
        check(machine.lastAppliedSequence, oracle.lastSequence, "last applied sequence")
    }

    // MARK: Running

    func run() throws {
        setUpMeters()
        for round in 0..<rounds {
            for batch in 0..<batchesPerRound {
                if batch == batchesPerRound / 2 && (round == 1 || round == 4) {
                    meterOperation(forceRecreate: true)  // archive and re-create an event name mid-stream
                } else if batch == batchesPerRound - 2 && (round == 2 || round == 5) {
                    archiveRecreatedName()  // a name with only archived meters resolves to the newest
                } else if round > 0 && random.chance(0.06) {
                    meterOperation()  // (not in round 0, so that every initial meter counts something first)
                }
                // Jumps past the minute retention (4 h) and across billing months, whatever the seed.
                let forcedJump: Int64? = batch == 0 && round == 2 ? 5 * hour + random.int(0...(3 * hour))
                    : batch == 0 && round == 6 ? 33 * 24 * hour + random.int(0...hour) : nil
                if (batch == batchesPerRound - 1 && round % 3 == 1) || random.chance(0.02) {
                    probeDedupBoundary()
                } else {
                    advanceTime(forcedJump: forcedJump)
                    ingest()
                }
                try stopIfDiverged()
            }
            for _ in 0..<queriesPerRound {
                checkQuery(randomQuery(tenant: random.pick(Self.tenants)))
            }
            for _ in 0..<(queriesPerRound / 3) { checkCurrentUsage() }
            checkMeters()
            try stopIfDiverged()
            if round == rounds / 2 {
                // Carry on with a state machine restored from a snapshot: nothing may change.
                let bytes = machine.snapshot()
                let restored = try MeterStateMachine(snapshot: bytes, configuration: Self.configuration)
                check(restored.snapshot() == bytes, true, "restored snapshot re-encodes to the same \(bytes.count) bytes")
                machine = restored
            }
        }
    }

    var statistics: String {
        let applied = outcomes.values.reduce(0, +)
        return "\(reproduce): \(eventsGenerated) events generated, \(log.count) records, \(applied) applied event outcomes "
            + "\(outcomes.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key)=\($0.value)" }), "
            + "screenings \(screenings.sorted { $0.key.description < $1.key.description }.map { "\($0.key)=\($0.value)" }), "
            + "queries \(answers.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }) (\(answeredInHourResolution) answered in the hour-resolution past), "
            + "\(rowsCompared) rows compared (\(rowsWithUsage) with usage), \(currentUsageChecks) current usages, \(checks) comparisons, "
            + "\(dedupBoundaryProbes) dedup-boundary probes, time span \((now - startTime) / hour) h, largest jump \(largestJump / minute) min"
    }
}

final class OracleTests: XCTestCase {
    /// Runs the scenario, checking the state machine against the oracle at every step.
    private func runScenario() throws -> OracleScenario {
        let scenario = OracleScenario(seed: TestSeed.value)
        do {
            try scenario.run()
        } catch is OracleDivergence {
            XCTFail("stopped after \(scenario.failures) mismatches; \(scenario.reproduce)")
        }
        print(scenario.statistics)
        return scenario
    }

    func testStateMachineAgreesWithNaiveOracle() throws {
        let scenario = try runScenario()
        let seed = scenario.reproduce
        // The scenario reached what it is meant to exercise (guards against a generator that silently stops covering things).
        for kind in AggregationKind.allCases {
            let counted = scenario.oracle.meters.filter { $0.definition.aggregation.kind == kind }.map { scenario.oracle.counters($0).counted }.reduce(0, +)
            XCTAssertGreaterThan(counted, 0, "no \(kind.rawValue) meter counted anything; \(seed)")
        }
        let sums = scenario.oracle.meters.filter { $0.definition.aggregation.kind == .sum && scenario.oracle.counters($0).counted > 0 }
        XCTAssertTrue(sums.contains { $0.definition.aggregation.multiplier == nil } && sums.contains { $0.definition.aggregation.multiplier != nil },
                      "SUM with and without multiplier must both count events; \(seed)")
        for outcome in [EventOutcome.counted, .noActiveMeter, .filteredOut, .missingValue, .duplicate] {
            XCTAssertGreaterThan(scenario.outcomes[outcome, default: 0], 0, "no \(outcome) outcome; \(seed)")
        }
        for screening in [OracleScreening.accept, .duplicate, .rejected(.timestampTooOld), .rejected(.timestampInFuture)] {
            XCTAssertGreaterThan(scenario.screenings[screening, default: 0], 0, "no \(screening) screening; \(seed)")
        }
        for answer in ["rows", RejectionCode.resolutionUnavailable.name, RejectionCode.invalidQuery.name, RejectionCode.meterNotFound.name] {
            XCTAssertGreaterThan(scenario.answers[answer, default: 0], 0, "no query answered \(answer); \(seed)")
        }
        XCTAssertGreaterThan(scenario.answeredInHourResolution, 0, "no query read rolled-up hours; \(seed)")
        XCTAssertGreaterThan(scenario.largestJump, OracleScenario.configuration.minuteRetentionMilliseconds, seed)
        let names = Dictionary(grouping: scenario.oracle.meters, by: { "\($0.definition.tenantId)/\($0.definition.eventName)" })
        XCTAssertTrue(names.values.contains { $0.count >= 2 }, "no event name was archived and re-created; \(seed)")
        XCTAssertGreaterThan(scenario.oracle.events.count, 2000, seed)
        XCTAssertGreaterThan(scenario.dedupBoundaryProbes, 0, seed)
        XCTAssertGreaterThan(scenario.rowsWithUsage, 1000, seed)
    }

    func testReplayAndSnapshotGiveIdenticalStateAndAnswers() throws {
        let scenario = try runScenario()
        let seed = scenario.reproduce
        let configuration = OracleScenario.configuration
        let finalBytes = scenario.machine.snapshot()

        // Replay every record, round-tripped through the codec, into a fresh state machine.
        let replayed = MeterStateMachine(configuration: configuration)
        for (position, entry) in scenario.log.enumerated() {
            let encoded = RecordCodec.encode(entry.record)
            let decoded = try RecordCodec.decode(type: encoded.type, payload: encoded.payload)
            XCTAssertEqual(decoded, entry.record, "record \(position) changed in the codec; \(seed)")
            XCTAssertEqual(replayed.apply(decoded, sequence: entry.sequence), entry.outcome, "record \(position) applied differently on replay; \(seed)")
        }
        XCTAssertEqual(replayed.snapshot(), finalBytes, "replay reached different state; \(seed)")
        XCTAssertGreaterThan(scenario.log.count, 100, seed)

        // Replay every record from its bytes (decode-into-apply, as recovery does): same outcomes, same bytes.
        let fromBytes = MeterStateMachine(configuration: configuration)
        for (position, entry) in scenario.log.enumerated() {
            let encoded = RecordCodec.encode(entry.record)
            XCTAssertEqual(try fromBytes.apply(logRecordType: encoded.type, payload: encoded.payload, sequence: entry.sequence), entry.outcome,
                           "record \(position) applied differently from its bytes; \(seed)")
        }
        XCTAssertEqual(fromBytes.snapshot(), finalBytes, "replay from bytes reached different state; \(seed)")

        // A state machine restored from the snapshot answers exactly like the original (and the oracle).
        let restored = try MeterStateMachine(snapshot: finalBytes, configuration: configuration)
        XCTAssertEqual(restored.snapshot(), finalBytes, "restored snapshot re-encodes differently; \(seed)")
        var compared = 0
        func compareAll() {
            for _ in 0..<80 {
                let query = scenario.randomQuery(tenant: scenario.random.pick(OracleScenario.tenants))
                let original = scenario.machineAnswer(scenario.machine, query).answer
                XCTAssertEqual(scenario.machineAnswer(restored, query).answer, original, "restored: \(scenario.describe(query)); \(seed)")
                XCTAssertEqual(scenario.machineAnswer(replayed, query).answer, original, "replayed: \(scenario.describe(query)); \(seed)")
                scenario.checkRows(original, scenario.oracle.usage(query), scenario.describe(query))
                compared += 1
            }
            for tenant in OracleScenario.tenants {
                XCTAssertEqual(restored.meters(tenantId: tenant), scenario.machine.meters(tenantId: tenant), seed)
                XCTAssertEqual(restored.eventsWithoutMeter(tenantId: tenant), scenario.machine.eventsWithoutMeter(tenantId: tenant), seed)
            }
        }
        compareAll()

        // All three keep evolving identically, dedup memory included: resend recent ids and new events.
        let original = scenario.machine
        for step in 0..<12 {
            scenario.advanceTime(forcedJump: step == 6 ? 5 * hour : nil)
            let tenant = scenario.random.pick(OracleScenario.tenants)
            var batch = scenario.randomBatch(tenant: tenant)
            batch += scenario.oracle.events.suffix(8).filter { $0.tenantId == tenant }.map(\.event)
            var pending = [Set<String>(), Set<String>(), Set<String>()]
            let screened = [original, restored, replayed].enumerated().map { index, machine in
                machine.screen(batch, tenantId: tenant, nowMilliseconds: scenario.now, pendingEventIds: &pending[index])
            }
            var oraclePending = Set<String>()
            let expected = scenario.oracle.screen(batch, tenantId: tenant, nowMilliseconds: scenario.now, pending: &oraclePending)
            XCTAssertEqual(screened[1], screened[0], "restored screens differently; \(seed)")
            XCTAssertEqual(screened[2], screened[0], "replayed screens differently; \(seed)")
            XCTAssertEqual(screened[0].map(OracleScreening.init), expected, "screening after restore; \(seed)")
            let accepted = zip(batch, screened[0]).filter { $0.1 == .accept }.map(\.0)
            guard !accepted.isEmpty else { continue }
            let record = StateRecord.eventsAccepted(tenantId: tenant, acceptedAtMilliseconds: scenario.now, events: accepted)
            scenario.sequence += 1
            let outcome = original.apply(record, sequence: scenario.sequence)
            XCTAssertEqual(restored.apply(record, sequence: scenario.sequence), outcome, seed)
            XCTAssertEqual(replayed.apply(record, sequence: scenario.sequence), outcome, seed)
            XCTAssertEqual(OracleApplyOutcome(outcome), scenario.oracle.apply(record, sequence: scenario.sequence), "apply after restore; \(seed)")
        }
        XCTAssertEqual(restored.snapshot(), original.snapshot(), "restored diverged after more records; \(seed)")
        XCTAssertEqual(replayed.snapshot(), original.snapshot(), "replayed diverged after more records; \(seed)")
        compareAll()
        XCTAssertEqual(scenario.failures, 0, seed)
        print("\(seed): replayed \(scenario.log.count) records, \(finalBytes.count) snapshot bytes, \(compared) queries compared on restored/replayed state machines")
    }
}
