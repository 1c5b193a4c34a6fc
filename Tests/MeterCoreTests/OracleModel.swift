// A naive, independent model of MeterStateMachine for the randomized oracle test.
//
// It keeps a plain list of meters and a plain list of accepted events and answers every
// question by filtering those lists from scratch. It never calls MeterCore's aggregation or
// query code: only ExactDecimal arithmetic, PropertyValue.canonicalText / numericValue and the
// calendar helpers (WindowSize, BillingPeriod) for window and period boundaries.

import MeterCore

/// Floor division for instants (which may be negative relative to a cutoff).
func oracleFloorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
    let quotient = value / divisor
    return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
}

/// What the oracle expects a screening to be (rejections compared by code only).
enum OracleScreening: Hashable, CustomStringConvertible {
    case accept
    case duplicate
    case rejected(RejectionCode)

    init(_ screening: EventScreening) {
        switch screening {
        case .accept: self = .accept
        case .duplicate: self = .duplicate
        case .rejected(let error): self = .rejected(error.code)
        }
    }

    var description: String {
        switch self {
        case .accept: return "accept"
        case .duplicate: return "duplicate"
        case .rejected(let code): return "rejected(\(code.name))"
        }
    }
}

/// What the oracle expects `apply` to return (refusals compared by code only).
enum OracleApplyOutcome: Hashable {
    case meterCreated(Meter)
    case meterUpdated(Meter)
    case events([EventOutcome])
    case backfillProgress
    case refused(RejectionCode)

    init(_ outcome: ApplyOutcome) {
        switch outcome {
        case .meterCreated(let meter): self = .meterCreated(meter)
        case .meterUpdated(let meter): self = .meterUpdated(meter)
        case .events(let outcomes): self = .events(outcomes)
        case .backfillProgress: self = .backfillProgress
        case .apiKeyChanged: fatalError("the oracle scenario does not change keys")
        case .entitlementChanged: fatalError("the oracle scenario does not change entitlements")
        case .refused(let error): self = .refused(error.code)
        }
    }
}

/// A query answer: rows, or the code of the error it must throw.
enum OracleAnswer<Value: Hashable>: Hashable {
    case value(Value)
    case failure(RejectionCode)
}

final class OracleModel {
    struct MeterEntry {
        var id: String
        var definition: MeterDefinition
        var status: MeterStatus
        var createdAtMilliseconds: Int64
        var archivedAtMilliseconds: Int64?
        var createdSequence: UInt64
        /// Log position of the archive record; events at or after it no longer count.
        var archivedSequence: UInt64?
        /// No event had been accepted before the meter: nothing to backfill.
        var nothingToBackfill = false
    }

    struct AcceptedEvent {
        var tenantId: String
        var event: UsageEvent
        var acceptedAtMilliseconds: Int64
        var sequence: UInt64
        var index: UInt32
    }

    let configuration: MeterCoreConfiguration
    private(set) var meters: [MeterEntry] = []
    /// Every accepted, non-duplicate event in log order.
    private(set) var events: [AcceptedEvent] = []
    /// Latest accept time of each (tenant, event id), for the dedup rule.
    private var lastAccepted: [String: Int64] = [:]
    private(set) var highWaterMilliseconds: Int64 = .min
    private(set) var lastSequence: UInt64 = 0
    private var nextMeterNumber = 1

    init(configuration: MeterCoreConfiguration) {
        self.configuration = configuration
    }

    // MARK: Small independent helpers

    static func property(_ event: UsageEvent, _ key: String) -> PropertyValue? {
        event.properties.first(where: { $0.key == key })?.value
    }

    private static func isValidIdentifier(_ text: String, maximumBytes: Int) -> Bool {
        let bytes = Array(text.utf8)
        return !bytes.isEmpty && bytes.count <= maximumBytes && !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F })
    }

    private static func isValidEventName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        for (position, byte) in bytes.enumerated() {
            let lowerOrDigit = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            if position == 0 { if !lowerOrDigit { return false } } else if !(lowerOrDigit || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")) { return false }
        }
        return true
    }

    private static func isValidPropertyKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        for (position, byte) in bytes.enumerated() {
            let alphanumeric = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            if position == 0 { if !alphanumeric { return false } } else if !(alphanumeric || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")) { return false }
        }
        return true
    }

    static func isValidDisplayName(_ name: String) -> Bool {
        name.count >= 1 && name.count <= 128
            && !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            && name.contains(where: { !$0.isWhitespace })
    }

    /// The rejection of one event on its own, in the documented rule order.
    func rejection(of event: UsageEvent, nowMilliseconds now: Int64) -> RejectionCode? {
        let limits = configuration.limits
        if !Self.isValidIdentifier(event.eventId, maximumBytes: limits.eventIdMaximumBytes) { return .invalidEventId }
        if !Self.isValidEventName(event.eventName) { return .invalidEventName }
        if !Self.isValidIdentifier(event.customerId, maximumBytes: limits.customerIdMaximumBytes) { return .invalidCustomerId }
        if event.timestampMilliseconds < now - configuration.lateWindowMilliseconds { return .timestampTooOld }
        if event.timestampMilliseconds > now + configuration.futureSkewMilliseconds { return .timestampInFuture }
        if let source = event.source, !Self.isValidIdentifier(source, maximumBytes: limits.sourceMaximumBytes) { return .invalidSource }
        if event.properties.count > limits.propertiesMaximumCount { return .tooManyProperties }
        var seen = Set<String>()
        for property in event.properties {
            if !Self.isValidPropertyKey(property.key) { return .invalidProperty }
            if case .string(let text) = property.value, text.utf8.count > limits.propertyValueMaximumBytes { return .invalidProperty }
            if !seen.insert(property.key).inserted { return .invalidProperty }
        }
        return nil
    }

    private func dedupKey(_ tenantId: String, _ eventId: String) -> String {
        tenantId + "\u{0}" + eventId
    }

    private func isRemembered(tenantId: String, eventId: String, since oldestKept: Int64) -> Bool {
        guard let acceptedAt = lastAccepted[dedupKey(tenantId, eventId)] else { return false }
        return acceptedAt >= oldestKept
    }

    /// The meter of `tenantId` with `eventName` that was active right when log position `sequence` applied.
    func meterActive(tenantId: String, eventName: String, atSequence sequence: UInt64) -> MeterEntry? {
        meters.first { meter in
            meter.definition.tenantId == tenantId && meter.definition.eventName == eventName
                && meter.createdSequence < sequence && (meter.archivedSequence.map { sequence < $0 } ?? true)
        }
    }

    /// How an event that reached `definition`'s meter is treated: counted, filtered out or missing its value.
    static func classify(_ event: UsageEvent, for definition: MeterDefinition) -> EventOutcome {
        for filter in definition.filters {
            guard let value = property(event, filter.key), filter.values.contains(value.canonicalText) else { return .filteredOut }
        }
        if let field = definition.aggregation.field {
            guard let value = property(event, field) else { return .missingValue }
            if definition.aggregation.kind != .countUnique, value.numericValue == nil { return .missingValue }
        }
        return .counted
    }

    // MARK: Screening and applying

    func screen(_ batch: [UsageEvent], tenantId: String, nowMilliseconds now: Int64, pending: inout Set<String>) -> [OracleScreening] {
        batch.map { event in
            if let code = rejection(of: event, nowMilliseconds: now) { return .rejected(code) }
            if isRemembered(tenantId: tenantId, eventId: event.eventId, since: now - configuration.dedupWindowMilliseconds) {
                return .duplicate
            }
            return pending.insert(event.eventId).inserted ? .accept : .duplicate
        }
    }

    func meter(byId id: String, tenantId: String) -> MeterEntry? {
        meters.first { $0.id == id && $0.definition.tenantId == tenantId }
    }

    /// The refusal code a create of `definition` gets now, or nil. Only checks what the test generates invalid.
    func createRefusal(_ definition: MeterDefinition) -> RejectionCode? {
        if !Self.isValidDisplayName(definition.displayName) { return .invalidDisplayName }
        if (definition.aggregation.kind == .count) != (definition.aggregation.field == nil) { return .invalidAggregation }
        if meters.contains(where: { $0.status == .active && $0.definition.tenantId == definition.tenantId && $0.definition.eventName == definition.eventName }) {
            return .meterAlreadyExists
        }
        return nil
    }

    func archiveRefusal(tenantId: String, meterId: String) -> RejectionCode? {
        guard let entry = meter(byId: meterId, tenantId: tenantId) else { return .meterNotFound }
        return entry.status == .active ? nil : .meterArchived
    }

    func displayNameRefusal(tenantId: String, meterId: String, displayName: String) -> RejectionCode? {
        guard meter(byId: meterId, tenantId: tenantId) != nil else { return .meterNotFound }
        return Self.isValidDisplayName(displayName) ? nil : .invalidDisplayName
    }

    func apply(_ record: StateRecord, sequence: UInt64) -> OracleApplyOutcome {
        precondition(sequence > lastSequence)
        lastSequence = sequence
        switch record {
        case .meterCreated(let definition, let at):
            if let code = createRefusal(definition) { return .refused(code) }
            let entry = MeterEntry(id: "mtr_\(nextMeterNumber)", definition: definition, status: .active, createdAtMilliseconds: at,
                                   archivedAtMilliseconds: nil, createdSequence: sequence, archivedSequence: nil,
                                   nothingToBackfill: highWaterMilliseconds == .min)
            nextMeterNumber += 1
            meters.append(entry)
            return .meterCreated(publicMeter(entry))
        case .meterDisplayNameChanged(let tenantId, let meterId, let displayName, _):
            if let code = displayNameRefusal(tenantId: tenantId, meterId: meterId, displayName: displayName) { return .refused(code) }
            let position = meters.firstIndex { $0.id == meterId }!
            meters[position].definition.displayName = displayName
            return .meterUpdated(publicMeter(meters[position]))
        case .meterArchived(let tenantId, let meterId, let at):
            if let code = archiveRefusal(tenantId: tenantId, meterId: meterId) { return .refused(code) }
            let position = meters.firstIndex { $0.id == meterId }!
            meters[position].status = .archived
            meters[position].archivedAtMilliseconds = at
            meters[position].archivedSequence = sequence
            return .meterUpdated(publicMeter(meters[position]))
        case .eventsAccepted(let tenantId, let acceptedAt, let batch):
            highWaterMilliseconds = max(highWaterMilliseconds, acceptedAt)
            let oldestKept = acceptedAt - configuration.dedupWindowMilliseconds
            var outcomes: [EventOutcome] = []
            for (index, event) in batch.enumerated() {
                if isRemembered(tenantId: tenantId, eventId: event.eventId, since: oldestKept) {
                    outcomes.append(.duplicate)
                    continue
                }
                lastAccepted[dedupKey(tenantId, event.eventId)] = max(acceptedAt, highWaterMilliseconds)
                events.append(AcceptedEvent(tenantId: tenantId, event: event, acceptedAtMilliseconds: acceptedAt, sequence: sequence, index: UInt32(index)))
                if let meter = meterActive(tenantId: tenantId, eventName: event.eventName, atSequence: sequence) {
                    outcomes.append(Self.classify(event, for: meter.definition))
                } else {
                    outcomes.append(.noActiveMeter)
                }
            }
            return .events(outcomes)
        case .backfillProgress:
            fatalError("the oracle scenario does not backfill")
        case .apiKeyCreated, .apiKeyRevoked, .audited:
            fatalError("the oracle scenario does not change keys or attribute meter changes")
        case .entitlementSet, .entitlementRemoved, .grantAdded, .grantRemoved, .thresholdRuleAdded, .thresholdRuleRemoved:
            fatalError("the oracle scenario does not change entitlements")
        }
    }

    // MARK: Reading, from scratch

    /// The events `entry` reached (its tenant and name, while it was active), with how each was treated.
    private func reached(_ entry: MeterEntry) -> [(event: AcceptedEvent, outcome: EventOutcome)] {
        events.compactMap { accepted in
            guard accepted.tenantId == entry.definition.tenantId, accepted.event.eventName == entry.definition.eventName,
                  entry.createdSequence < accepted.sequence, entry.archivedSequence.map({ accepted.sequence < $0 }) ?? true
            else { return nil }
            return (accepted, Self.classify(accepted.event, for: entry.definition))
        }
    }

    func counters(_ entry: MeterEntry) -> MeterCounters {
        var counters = MeterCounters()
        for item in reached(entry) {
            switch item.outcome {
            case .counted: counters.counted += 1
            case .filteredOut: counters.filteredOut += 1
            case .missingValue: counters.missingValue += 1
            default: fatalError("unexpected classification")
            }
        }
        return counters
    }

    func publicMeter(_ entry: MeterEntry) -> Meter {
        Meter(id: entry.id, definition: entry.definition, status: entry.status, createdAtMilliseconds: entry.createdAtMilliseconds,
              archivedAtMilliseconds: entry.archivedAtMilliseconds, createdSequence: entry.createdSequence,
              counters: counters(entry),
              backfill: BackfillStatus(targetSequence: entry.createdSequence,
                                       completedThroughSequence: entry.nothingToBackfill ? entry.createdSequence : 0))
    }

    func meterList(tenantId: String, includeArchived: Bool) -> [Meter] {
        meters.filter { $0.definition.tenantId == tenantId && (includeArchived || $0.status == .active) }.map(publicMeter)
    }

    func eventsWithoutMeter(tenantId: String) -> UInt64 {
        UInt64(events.filter { accepted in
            accepted.tenantId == tenantId && meterActive(tenantId: tenantId, eventName: accepted.event.eventName, atSequence: accepted.sequence) == nil
        }.count)
    }

    func resolve(tenantId: String, _ reference: MeterReference) -> MeterEntry? {
        switch reference {
        case .id(let id):
            return meter(byId: id, tenantId: tenantId)
        case .eventName(let name):
            let candidates = meters.filter { $0.definition.tenantId == tenantId && $0.definition.eventName == name }
            return candidates.first(where: { $0.status == .active }) ?? candidates.last
        }
    }

    /// Start of the time that is only kept per hour (minute buckets before it were rolled up), if any.
    var hourResolutionBeforeMilliseconds: Int64? {
        guard highWaterMilliseconds != .min else { return nil }
        return oracleFloorDiv(highWaterMilliseconds - configuration.minuteRetentionMilliseconds, 3_600_000) * 3_600_000
    }

    func boundaries(from: Int64, to: Int64, size: WindowSize?) -> [Int64] {
        var result = [from]
        if let size {
            var next = size.windowStart(containing: from)
            while true {
                next = size.windowEnd(startingAt: next)
                if next >= to { break }
                result.append(next)
            }
        }
        result.append(to)
        return result
    }

    private struct RowKey: Hashable {
        var customer: String?
        var group: [String?]
    }

    private static func precedes(_ first: RowKey, _ second: RowKey) -> Bool {
        let firstCustomer = first.customer ?? "", secondCustomer = second.customer ?? ""
        if firstCustomer != secondCustomer { return firstCustomer < secondCustomer }
        for (left, right) in zip(first.group, second.group) where left != right {
            guard let left else { return true }
            guard let right else { return false }
            return left < right
        }
        return first.group.count < second.group.count
    }

    struct Overflow: Error {}

    /// The value of one window from the events that fall in it.
    static func value(of items: [AcceptedEvent], definition: MeterDefinition) throws -> ExactDecimal? {
        let aggregation = definition.aggregation
        func number(_ item: AcceptedEvent) -> ExactDecimal { property(item.event, aggregation.field!)!.numericValue! }
        switch aggregation.kind {
        case .count:
            return ExactDecimal(Int64(items.count))
        case .countUnique:
            return ExactDecimal(Int64(Set(items.map { property($0.event, aggregation.field!)!.canonicalText }).count))
        case .sum, .average:
            var sum = ExactDecimal.zero
            for item in items {
                do { sum = try sum.adding(number(item)) } catch { throw Overflow() }
            }
            if aggregation.kind == .average { return items.isEmpty ? nil : sum.divided(by: Int64(items.count)) }
            guard let multiplier = aggregation.multiplier else { return sum }
            do { return try sum.multiplied(by: multiplier) } catch { throw Overflow() }
        case .minimum:
            return items.map(number).min()
        case .maximum:
            return items.map(number).max()
        case .latest:
            let latest = items.max { first, second in
                (first.event.timestampMilliseconds, first.sequence, first.index) < (second.event.timestampMilliseconds, second.sequence, second.index)
            }
            return latest.map(number)
        }
    }

    func usage(_ query: UsageQuery) -> OracleAnswer<[UsageRow]> {
        guard let entry = resolve(tenantId: query.tenantId, query.meter) else { return .failure(.meterNotFound) }
        let definition = entry.definition
        guard query.fromMilliseconds >= 0, query.toMilliseconds <= UsageQuery.latestMilliseconds,
              query.fromMilliseconds < query.toMilliseconds,
              query.fromMilliseconds % 60_000 == 0, query.toMilliseconds % 60_000 == 0,
              query.groupBy.allSatisfy(definition.groupBy.contains), Set(query.groupBy).count == query.groupBy.count,
              query.groupFilters.allSatisfy({ definition.groupBy.contains($0.key) })
        else { return .failure(.invalidQuery) }
        let edges = boundaries(from: query.fromMilliseconds, to: query.toMilliseconds, size: query.windowSize)
        if edges.count - 1 > UsageQuery.windowsMaximumCount { return .failure(.invalidQuery) }
        if let cutoff = hourResolutionBeforeMilliseconds, edges.contains(where: { $0 < cutoff && $0 % 3_600_000 != 0 }) {
            return .failure(.resolutionUnavailable)
        }
        var cumulative = false
        if case .cumulative = definition.reset { cumulative = true }
        let perCustomer = query.groupByCustomer || query.customerId != nil
        var byKey: [RowKey: [AcceptedEvent]] = [:]
        for item in reached(entry) where item.outcome == .counted {
            let event = item.event.event
            if let customer = query.customerId, event.customerId != customer { continue }
            let passes = query.groupFilters.allSatisfy { filter in
                guard let text = Self.property(event, filter.key)?.canonicalText else { return false }
                return filter.values.contains(text)
            }
            guard passes else { continue }
            let key = RowKey(customer: perCustomer ? event.customerId : nil, group: query.groupBy.map { Self.property(event, $0)?.canonicalText })
            byKey[key, default: []].append(item.event)
        }
        if byKey.isEmpty && !query.groupByCustomer && query.groupBy.isEmpty {
            byKey[RowKey(customer: query.customerId, group: [])] = []
        }
        var rows: [UsageRow] = []
        for key in byKey.keys.sorted(by: Self.precedes) {
            let items = byKey[key]!
            for window in 0..<(edges.count - 1) {
                let start = edges[window], end = edges[window + 1]
                let inWindow = items.filter { $0.event.timestampMilliseconds < end && (cumulative || $0.event.timestampMilliseconds >= start) }
                let value: ExactDecimal?
                do { value = try Self.value(of: inWindow, definition: definition) } catch { return .failure(.valueOverflow) }
                rows.append(UsageRow(windowStartMilliseconds: start, windowEndMilliseconds: end, customerId: key.customer,
                                     group: zip(query.groupBy, key.group).map { GroupValue(key: $0, value: $1) },
                                     value: value, eventCount: Int64(inWindow.count)))
            }
        }
        return .value(rows)
    }

    /// Usage "now": the billing period containing `at` (PERIODIC) or the running total to the end of its minute (CUMULATIVE).
    func currentUsage(tenantId: String, meter reference: MeterReference, customerId: String?, atMilliseconds at: Int64) -> OracleAnswer<UsageRow> {
        guard let entry = resolve(tenantId: tenantId, reference) else { return .failure(.meterNotFound) }
        guard at >= 0, at < UsageQuery.latestMilliseconds - 400 * 86_400_000 else { return .failure(.invalidQuery) }
        var query = UsageQuery(tenantId: tenantId, meter: .id(entry.id), fromMilliseconds: 0, toMilliseconds: 0, customerId: customerId)
        switch entry.definition.reset {
        case .periodic(let period, let anchor):
            let bounds = period.periodBounds(containing: at, anchorMilliseconds: anchor)
            (query.fromMilliseconds, query.toMilliseconds) = (bounds.startMilliseconds, bounds.endMilliseconds)
        case .cumulative:
            query.fromMilliseconds = oracleFloorDiv(at, 60_000) * 60_000
            query.toMilliseconds = query.fromMilliseconds + 60_000
        }
        switch usage(query) {
        case .failure(let code): return .failure(code)
        case .value(let rows):
            precondition(rows.count == 1)
            return .value(rows[0])
        }
    }
}
