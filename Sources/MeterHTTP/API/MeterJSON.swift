import MeterCore
import MeterEngine

/// How meters, usage rows and event results look in the JSON API. Decimals are strings.
enum MeterJSON {
    static func write(_ meter: Meter, to output: inout JSONOutput) {
        let definition = meter.definition
        output.beginObject()
        output.field("id", meter.id)
        output.field("eventName", definition.eventName)
        output.field("displayName", definition.displayName)
        output.field("status", meter.status.rawValue)
        output.array("filters", definition.filters) { filter, output in
            output.beginObject()
            output.field("key", filter.key)
            output.array("values", filter.values) { value, output in output.string(value) }
            output.endObject()
        }
        output.field("aggregation", definition.aggregation.kind.rawValue)
        output.field("valueProperty", definition.aggregation.field)
        output.field("multiplier", definition.aggregation.multiplier?.description)
        switch definition.reset {
        case .cumulative:
            output.field("reset", "CUMULATIVE")
            output.field("billingPeriod", nil as String?)
            output.field("anchor", nil as String?)
        case .periodic(let period, let anchor):
            output.field("reset", "PERIODIC")
            output.field("billingPeriod", period.rawValue.uppercased())
            output.field("anchor", CivilTime.rfc3339(milliseconds: anchor))
        }
        output.array("groupBy", definition.groupBy) { key, output in output.string(key) }
        output.field("createdAt", CivilTime.rfc3339(milliseconds: meter.createdAtMilliseconds))
        output.field("archivedAt", meter.archivedAtMilliseconds.map { CivilTime.rfc3339(milliseconds: $0) })
        output.object("counters") { output in
            output.field("counted", integer: meter.counters.counted)
            output.field("filteredOut", integer: meter.counters.filteredOut)
            output.field("missingValue", integer: meter.counters.missingValue)
            output.field("overflowed", integer: meter.counters.overflowed)
        }
        output.object("backfill") { output in
            output.field("complete", boolean: meter.backfill.isComplete)
            output.field("eventsCounted", integer: meter.backfill.eventsCounted)
            output.field("targetSequence", integer: meter.backfill.targetSequence)
            output.field("completedThroughSequence", integer: meter.backfill.completedThroughSequence)
        }
        output.endObject()
    }

    static func text(_ meter: Meter) -> String {
        JSONOutput.text(of: meter, write)
    }

    /// The name of an event result's status and outcome, as the binary protocol names them.
    static func names(_ result: EventResult) -> (status: String, outcome: String?) {
        switch result {
        case .accepted(.duplicate), .duplicate: return ("DUPLICATE", nil)
        case .accepted(let outcome): return ("ACCEPTED", outcomeName(outcome))
        case .rejected: return ("REJECTED", nil)
        }
    }

    static func outcomeName(_ outcome: EventOutcome) -> String {
        switch outcome {
        case .counted: return "COUNTED"
        case .noActiveMeter: return "NO_ACTIVE_METER"
        case .filteredOut: return "FILTERED_OUT"
        case .missingValue: return "MISSING_VALUE"
        case .overflow: return "OVERFLOW"
        case .duplicate: return "DUPLICATE"
        }
    }
}
