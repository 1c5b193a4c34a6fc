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
        output.key("filters")
        output.beginArray()
        for filter in definition.filters {
            output.beginObject()
            output.field("key", filter.key)
            output.key("values")
            output.beginArray()
            for value in filter.values { output.string(value) }
            output.endArray()
            output.endObject()
        }
        output.endArray()
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
        output.key("groupBy")
        output.beginArray()
        for key in definition.groupBy { output.string(key) }
        output.endArray()
        output.field("createdAt", CivilTime.rfc3339(milliseconds: meter.createdAtMilliseconds))
        output.field("archivedAt", meter.archivedAtMilliseconds.map { CivilTime.rfc3339(milliseconds: $0) })
        output.key("counters")
        output.beginObject()
        output.field("counted", integer: meter.counters.counted)
        output.field("filteredOut", integer: meter.counters.filteredOut)
        output.field("missingValue", integer: meter.counters.missingValue)
        output.field("overflowed", integer: meter.counters.overflowed)
        output.endObject()
        output.key("backfill")
        output.beginObject()
        output.field("complete", boolean: meter.backfill.isComplete)
        output.field("eventsCounted", integer: meter.backfill.eventsCounted)
        output.field("targetSequence", integer: meter.backfill.targetSequence)
        output.field("completedThroughSequence", integer: meter.backfill.completedThroughSequence)
        output.endObject()
        output.endObject()
    }

    static func text(_ meter: Meter) -> String {
        var output = JSONOutput()
        write(meter, to: &output)
        return output.text
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
