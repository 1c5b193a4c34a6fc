import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// Translations between the wire messages (meterd.v1) and MeterCore's types. Decimals travel
/// as strings and are parsed exactly; nothing passes through a floating-point number. Public so
/// that the HTTP API (MeterHTTP) validates a meter definition with the same rules and messages.
public enum ProtoConversions {
    // MARK: Meters

    public static func definition(_ proto: Meterd_V1_MeterDefinition, tenantId: String) throws(RPCFailure) -> MeterDefinition {
        guard let kind = AggregationKind.allCases.first(where: { Self.proto($0) == proto.aggregation }) else {
            throw RPCFailure(.invalidArgument, "aggregation must be one of COUNT, SUM, AVG, MIN, MAX, COUNT_UNIQUE, LATEST", reason: RejectionCode.invalidAggregation.name)
        }
        var multiplier: ExactDecimal?
        if !proto.multiplier.isEmpty {
            do {
                multiplier = try ExactDecimal(parsing: proto.multiplier)
            } catch {
                throw RPCFailure(.invalidArgument, "multiplier \"\(proto.multiplier)\" is not a decimal: \(error)", reason: RejectionCode.invalidAggregation.name)
            }
        }
        let reset: ResetPolicy
        switch proto.reset {
        case .cumulative:
            guard proto.billingPeriod == .unspecified else {
                throw RPCFailure(.invalidArgument, "billing_period must be unspecified when reset is CUMULATIVE (a running total never resets); got \(proto.billingPeriod)", reason: RejectionCode.invalidReset.name)
            }
            guard !proto.hasAnchor_p else {
                throw RPCFailure(.invalidArgument, "anchor_ms is for PERIODIC meters only; leave has_anchor false when reset is CUMULATIVE", reason: RejectionCode.invalidReset.name)
            }
            reset = .cumulative
        case .periodic:
            guard let period = BillingPeriod.allCases.first(where: { Self.proto($0) == proto.billingPeriod }) else {
                if case .UNRECOGNIZED(let number) = proto.billingPeriod {
                    throw RPCFailure(.invalidArgument, "billing_period \(number) is not a known billing period: use DAILY, WEEKLY, MONTHLY, QUARTERLY or ANNUAL", reason: RejectionCode.invalidReset.name)
                }
                throw RPCFailure(.invalidArgument, "billing_period is required when reset is PERIODIC: DAILY, WEEKLY, MONTHLY, QUARTERLY or ANNUAL", reason: RejectionCode.invalidReset.name)
            }
            reset = .periodic(period: period, anchorMilliseconds: proto.hasAnchor_p ? proto.anchorMs : ResetPolicy.defaultAnchorMilliseconds)
        case .resetUnspecified:
            throw RPCFailure(.invalidArgument, "reset is required: CUMULATIVE (a running total) or PERIODIC (resets each billing period)", reason: RejectionCode.invalidReset.name)
        case .UNRECOGNIZED(let number):
            throw RPCFailure(.invalidArgument, "reset \(number) is not a known reset mode: use CUMULATIVE (a running total) or PERIODIC (resets each billing period)", reason: RejectionCode.invalidReset.name)
        }
        return MeterDefinition(
            tenantId: tenantId, eventName: proto.eventName, displayName: proto.displayName,
            filters: proto.filters.map { MeterFilter(key: $0.key, values: $0.values) },
            aggregation: Aggregation(kind: kind, field: proto.field.isEmpty ? nil : proto.field, multiplier: multiplier),
            reset: reset, groupBy: proto.groupBy)
    }

    static func proto(_ definition: MeterDefinition) -> Meterd_V1_MeterDefinition {
        var proto = Meterd_V1_MeterDefinition()
        proto.eventName = definition.eventName
        proto.displayName = definition.displayName
        proto.filters = definition.filters.map { filter in
            var message = Meterd_V1_MeterFilter()
            message.key = filter.key
            message.values = filter.values
            return message
        }
        proto.aggregation = Self.proto(definition.aggregation.kind)
        proto.field = definition.aggregation.field ?? ""
        proto.multiplier = definition.aggregation.multiplier?.description ?? ""
        switch definition.reset {
        case .cumulative:
            proto.reset = .cumulative
        case .periodic(let period, let anchor):
            proto.reset = .periodic
            proto.billingPeriod = Self.proto(period)
            proto.anchorMs = anchor
            proto.hasAnchor_p = true
        }
        proto.groupBy = definition.groupBy
        return proto
    }

    /// The one mapping of aggregation kinds to the wire enum (the other direction searches it).
    public static func proto(_ kind: AggregationKind) -> Meterd_V1_Aggregation {
        switch kind {
        case .count: return .count
        case .sum: return .sum
        case .average: return .avg
        case .minimum: return .min
        case .maximum: return .max
        case .countUnique: return .countUnique
        case .latest: return .latest
        }
    }

    /// The one mapping of billing periods to the wire enum (the other direction searches it).
    public static func proto(_ period: BillingPeriod) -> Meterd_V1_BillingPeriod {
        switch period {
        case .daily: return .daily
        case .weekly: return .weekly
        case .monthly: return .monthly
        case .quarterly: return .quarterly
        case .annual: return .annual
        }
    }

    static func proto(_ meter: Meter) -> Meterd_V1_Meter {
        var proto = Meterd_V1_Meter()
        proto.id = meter.id
        proto.definition = Self.proto(meter.definition)
        proto.status = meter.status == .active ? .active : .archived
        proto.createdAtMs = meter.createdAtMilliseconds
        proto.archivedAtMs = meter.archivedAtMilliseconds ?? 0
        proto.counters.counted = meter.counters.counted
        proto.counters.filteredOut = meter.counters.filteredOut
        proto.counters.missingValue = meter.counters.missingValue
        proto.counters.overflowed = meter.counters.overflowed
        proto.backfill.targetSequence = meter.backfill.targetSequence
        proto.backfill.completedThroughSequence = meter.backfill.completedThroughSequence
        proto.backfill.eventsCounted = meter.backfill.eventsCounted
        proto.backfill.complete = meter.backfill.isComplete
        return proto
    }

    static func reference(_ proto: Meterd_V1_MeterReference) throws(RPCFailure) -> MeterReference {
        switch proto.kind {
        case .id(let id): return .id(id)
        case .eventName(let name): return .eventName(name)
        case nil: throw RPCFailure(.invalidArgument, "name the meter by id or by event name", reason: RejectionCode.invalidQuery.name)
        }
    }

    // MARK: Events

    /// The event, or the reason it cannot be one (reported for that event alone).
    public static func event(_ proto: Meterd_V1_Event) -> Result<UsageEvent, MeterError> {
        var properties: [EventProperty] = []
        properties.reserveCapacity(proto.properties.count)
        for property in proto.properties {
            let value: PropertyValue
            switch property.value.kind {
            case .stringValue(let text): value = .string(text)
            case .integerValue(let number): value = .integer(number)
            case .boolValue(let flag): value = .boolean(flag)
            case .decimalValue(let text):
                do {
                    value = .decimal(try ExactDecimal(parsing: text))
                } catch {
                    return .failure(MeterError(.invalidProperty, "property \"\(property.key)\": \"\(text.prefix(40))\" is not a decimal: \(error)"))
                }
            case nil:
                return .failure(MeterError(.invalidProperty, "property \"\(property.key)\" has no value"))
            }
            properties.append(EventProperty(key: property.key, value: value))
        }
        return .success(UsageEvent(
            eventId: proto.eventID, eventName: proto.eventName, customerId: proto.customerID,
            timestampMilliseconds: proto.timestampMs, properties: properties, source: proto.source.isEmpty ? nil : proto.source))
    }

    /// The wire form of an event (forwarded to a partition's owner): `event(_:)` gives it back.
    static func proto(_ event: UsageEvent) -> Meterd_V1_Event {
        var proto = Meterd_V1_Event()
        proto.eventID = event.eventId
        proto.eventName = event.eventName
        proto.customerID = event.customerId
        proto.timestampMs = event.timestampMilliseconds
        if let source = event.source { proto.source = source }
        proto.properties = event.properties.map { property in
            var wire = Meterd_V1_Property()
            wire.key = property.key
            switch property.value {
            case .string(let text): wire.value.stringValue = text
            case .integer(let number): wire.value.integerValue = number
            case .boolean(let flag): wire.value.boolValue = flag
            case .decimal(let decimal): wire.value.decimalValue = decimal.description
            }
            return wire
        }
        return proto
    }

    static func proto(_ result: EventResult) -> Meterd_V1_EventResult {
        var proto = Meterd_V1_EventResult()
        switch result {
        case .accepted(.duplicate):
            proto.status = .duplicate
        case .accepted(let outcome):
            proto.status = .accepted
            proto.outcome = Self.proto(outcome)
        case .duplicate:
            proto.status = .duplicate
        case .rejected(let error):
            proto.status = .rejected
            proto.reason = error.code.name
            proto.message = error.message
        }
        return proto
    }

    /// The wire outcome of an accepted event (`.duplicate` is a status on the wire, not an outcome).
    static func proto(_ outcome: EventOutcome) -> Meterd_V1_EventOutcome {
        switch outcome {
        case .counted: return .counted
        case .noActiveMeter: return .noActiveMeter
        case .filteredOut: return .filteredOut
        case .missingValue: return .missingValue
        case .overflow: return .overflow
        case .duplicate: return .outcomeUnspecified
        }
    }

    // MARK: Usage

    /// The window size a query asks for; nil (one window over the whole range) for UNSPECIFIED.
    /// An unknown number is refused rather than read as "no windows".
    public static func windowSize(_ proto: Meterd_V1_WindowSize) throws(RPCFailure) -> WindowSize? {
        switch proto {
        case .windowUnspecified: return nil
        case .minute: return .minute
        case .fifteenMinutes: return .fifteenMinutes
        case .thirtyMinutes: return .thirtyMinutes
        case .hour: return .hour
        case .threeHours: return .threeHours
        case .sixHours: return .sixHours
        case .twelveHours: return .twelveHours
        case .day: return .day
        case .week: return .week
        case .month: return .month
        case .UNRECOGNIZED(let number):
            throw RPCFailure(.invalidArgument, "window_size \(number) is not a known window size: use MINUTE, FIFTEEN_MINUTES, THIRTY_MINUTES, HOUR, THREE_HOURS, SIX_HOURS, TWELVE_HOURS, DAY, WEEK, MONTH, or leave it unspecified for one window", reason: RejectionCode.invalidQuery.name)
        }
    }

    /// The wire window size of a query (UNSPECIFIED: one window over the whole range).
    static func proto(_ size: WindowSize?) -> Meterd_V1_WindowSize {
        switch size {
        case nil: return .windowUnspecified
        case .minute?: return .minute
        case .fifteenMinutes?: return .fifteenMinutes
        case .thirtyMinutes?: return .thirtyMinutes
        case .hour?: return .hour
        case .threeHours?: return .threeHours
        case .sixHours?: return .sixHours
        case .twelveHours?: return .twelveHours
        case .day?: return .day
        case .week?: return .week
        case .month?: return .month
        }
    }

    static func proto(_ row: UsageRow) -> Meterd_V1_UsageRow {
        var proto = Meterd_V1_UsageRow()
        proto.windowStartMs = row.windowStartMilliseconds
        proto.windowEndMs = row.windowEndMilliseconds
        proto.customerID = row.customerId ?? ""
        proto.group = row.group.map { value in
            var message = Meterd_V1_GroupValue()
            message.key = value.key
            message.value = value.value ?? ""
            message.present = value.value != nil
            return message
        }
        proto.value = row.value?.description ?? ""
        proto.hasValue_p = row.value != nil
        proto.eventCount = row.eventCount
        return proto
    }
}
