import MeterCore
import MeterProto
import MeterServer
import MeterWire
import MeterWireServer

/// A meter as typed into the API or the console's Add Meter form, before validation. It is
/// turned into the binary protocol's `MeterDefinition` and checked by the same code
/// (`ProtoConversions.definition`, then the engine), so every path gives the same messages.
struct MeterDraft: Sendable, Equatable {
    var eventName = ""
    var displayName = ""
    var filters: [MeterFilter] = []
    /// COUNT, SUM, AVG, MIN, MAX, COUNT_UNIQUE or LATEST.
    var aggregation = ""
    var valueProperty = ""
    var multiplier = ""
    /// CUMULATIVE or PERIODIC.
    var reset = ""
    /// DAILY, WEEKLY, MONTHLY, QUARTERLY or ANNUAL when periodic.
    var billingPeriod = ""
    /// RFC 3339, optional.
    var anchor = ""
    var groupBy: [String] = []

    func definition(tenantId: String) throws(RPCFailure) -> MeterDefinition {
        var proto = Meterd_V1_MeterDefinition()
        proto.eventName = eventName
        proto.displayName = displayName
        proto.filters = filters.map { filter in
            var message = Meterd_V1_MeterFilter()
            message.key = filter.key
            message.values = filter.values
            return message
        }
        // The names are MeterCore's raw values (COUNT, ..., ANNUAL); unknown ones are refused by
        // ProtoConversions.definition with its usual message.
        proto.aggregation = AggregationKind(rawValue: aggregation.uppercased()).map(ProtoConversions.proto) ?? .unspecified
        proto.field = valueProperty
        proto.multiplier = multiplier
        switch reset.uppercased() {
        case "CUMULATIVE": proto.reset = .cumulative
        case "PERIODIC": proto.reset = .periodic
        default: proto.reset = .resetUnspecified
        }
        if let period = BillingPeriod(rawValue: billingPeriod.uppercased()) {
            proto.billingPeriod = ProtoConversions.proto(period)
        } else if !billingPeriod.isEmpty {
            throw RPCFailure(.invalidArgument, "billing period \"\(billingPeriod.prefix(40))\" is not one of DAILY, WEEKLY, MONTHLY, QUARTERLY, ANNUAL", reason: RejectionCode.invalidReset.name)
        }
        if !anchor.isEmpty {
            guard let milliseconds = CivilTime.parseRFC3339(anchor) else {
                throw RPCFailure(.invalidArgument, "anchor \"\(anchor.prefix(40))\" is not an RFC 3339 time such as 2026-01-01T00:00:00Z", reason: RejectionCode.invalidReset.name)
            }
            proto.anchorMs = milliseconds
            proto.hasAnchor_p = true
        }
        proto.groupBy = groupBy
        return try ProtoConversions.definition(proto, tenantId: tenantId)
    }

    /// Which form field a rejection belongs next to (the console shows the message there).
    static func field(for reason: String) -> String {
        switch reason {
        case RejectionCode.invalidEventName.name, RejectionCode.meterAlreadyExists.name: return "event_name"
        case RejectionCode.invalidDisplayName.name: return "display_name"
        case RejectionCode.invalidFilter.name: return "filters"
        case RejectionCode.invalidAggregation.name: return "aggregation"
        case RejectionCode.invalidReset.name: return "reset"
        case RejectionCode.invalidGroupBy.name: return "group_by"
        default: return "form"
        }
    }
}
