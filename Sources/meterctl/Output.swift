import MeterCore
import MeterProto

/// A JSON value for output, with keys kept in the order they were given.
///
/// Decimal quantities are written as JSON strings (`"25.5"`), never as JSON numbers, so that
/// no reader turns them into floating point.
indirect enum JSONOutput {
    case string(String)
    /// An integer, written as a JSON number.
    case integer(Int64)
    case unsignedInteger(UInt64)
    case bool(Bool)
    case null
    case array([JSONOutput])
    case object([(String, JSONOutput)])

    /// An optional string: the string, or null when it is nil.
    static func optional(_ text: String?) -> JSONOutput {
        text.map(JSONOutput.string) ?? .null
    }

    /// Pretty-printed text with two-space indentation.
    func rendered() -> String {
        var text = ""
        render(into: &text, indentation: "")
        return text
    }

    private func render(into text: inout String, indentation: String) {
        switch self {
        case .string(let value): JSONStringLiteral.append(value, to: &text)
        case .integer(let value): text += String(value)
        case .unsignedInteger(let value): text += String(value)
        case .bool(let value): text += value ? "true" : "false"
        case .null: text += "null"
        case .array(let elements):
            Self.renderContainer(elements, open: "[", close: "]", into: &text, indentation: indentation) { element, text, inner in
                element.render(into: &text, indentation: inner)
            }
        case .object(let members):
            Self.renderContainer(members, open: "{", close: "}", into: &text, indentation: indentation) { member, text, inner in
                JSONStringLiteral.append(member.0, to: &text)
                text += ": "
                member.1.render(into: &text, indentation: inner)
            }
        }
    }

    /// `open`, one item per line indented two more spaces and separated by commas, `close`;
    /// `open` and `close` side by side when there are no items.
    private static func renderContainer<Item>(_ items: [Item], open: String, close: String, into text: inout String, indentation: String,
                                              item renderItem: (Item, inout String, String) -> Void) {
        guard !items.isEmpty else {
            text += open + close
            return
        }
        let inner = indentation + "  "
        text += open + "\n"
        for (index, item) in items.enumerated() {
            text += inner
            renderItem(item, &text, inner)
            text += index == items.count - 1 ? "\n" : ",\n"
        }
        text += indentation + close
    }

}

/// A plain-text table: a header row and aligned columns, numbers right-aligned.
struct TextTable {
    var headers: [String]
    /// Columns whose cells are right-aligned.
    var rightAligned: Set<Int> = []
    var rows: [[String]] = []

    init(headers: [String], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rightAligned = rightAligned
    }

    func rendered() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (column, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                let isLast = column == cells.count - 1
                if rightAligned.contains(column) {
                    parts.append(padding + cell)
                } else {
                    parts.append(isLast ? cell : cell + padding)
                }
            }
            return parts.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

/// Text forms of protocol values, shared by the commands.
enum Describe {
    static func time(_ milliseconds: Int64) -> String {
        CivilTime.rfc3339(milliseconds: milliseconds)
    }

    static func aggregation(_ value: Meterd_V1_Aggregation) -> String {
        AggregationArgument.names.first(where: { $0.1 == value })?.0 ?? "UNSPECIFIED(\(value.rawValue))"
    }

    static func period(_ value: Meterd_V1_BillingPeriod) -> String {
        PeriodArgument.names.first(where: { $0.1 == value })?.0.uppercased() ?? "UNSPECIFIED(\(value.rawValue))"
    }

    static func reset(_ value: Meterd_V1_ResetMode) -> String {
        switch value {
        case .cumulative: return "CUMULATIVE"
        case .periodic: return "PERIODIC"
        default: return "UNSPECIFIED(\(value.rawValue))"
        }
    }

    static func status(_ value: Meterd_V1_MeterStatus) -> String {
        switch value {
        case .active: return "ACTIVE"
        case .archived: return "ARCHIVED"
        default: return "UNSPECIFIED(\(value.rawValue))"
        }
    }

    /// `SUM(tokens) x 0.002`, `COUNT`, `COUNT_UNIQUE(user)`.
    static func formula(_ definition: Meterd_V1_MeterDefinition) -> String {
        var text = aggregation(definition.aggregation)
        if !definition.field.isEmpty { text += "(\(definition.field))" }
        if !definition.multiplier.isEmpty { text += " x \(definition.multiplier)" }
        return text
    }

    /// `PERIODIC, MONTHLY from 2000-01-01T00:00:00Z` or `CUMULATIVE`.
    static func resetPolicy(_ definition: Meterd_V1_MeterDefinition) -> String {
        guard definition.reset == .periodic else { return reset(definition.reset) }
        let anchor = definition.hasAnchor_p ? definition.anchorMs : ResetPolicy.defaultAnchorMilliseconds
        return "PERIODIC, \(period(definition.billingPeriod)) from \(time(anchor))"
    }

    /// `model in [llama3.1, llama3.2]; region in [eu]`, or `none`.
    static func filters(_ filters: [Meterd_V1_MeterFilter]) -> String {
        guard !filters.isEmpty else { return "none" }
        return filters.map { "\($0.key) in [\($0.values.joined(separator: ", "))]" }.joined(separator: "; ")
    }

    /// `complete (12 events)` or `in progress: through 1200 of 5000`.
    static func backfill(_ backfill: Meterd_V1_Backfill) -> String {
        if backfill.complete {
            return "complete (\(backfill.eventsCounted) events)"
        }
        return "in progress: through log position \(backfill.completedThroughSequence) of \(backfill.targetSequence) (\(backfill.eventsCounted) events so far)"
    }

    /// Every field of a meter as aligned `label: value` lines.
    static func meterDetails(_ meter: Meterd_V1_Meter) -> String {
        let definition = meter.definition
        let counters = meter.counters
        var lines: [(String, String)] = [
            ("id", meter.id),
            ("event name", definition.eventName),
            ("display name", definition.displayName),
            ("status", status(meter.status)),
            ("aggregation", formula(definition)),
            ("filters", Describe.filters(definition.filters)),
            ("group by", definition.groupBy.isEmpty ? "none" : definition.groupBy.joined(separator: ", ")),
            ("reset", resetPolicy(definition)),
            ("created", time(meter.createdAtMs)),
        ]
        if meter.status == .archived {
            lines.append(("archived", time(meter.archivedAtMs)))
        }
        lines.append((
            "events",
            "\(counters.counted) counted, \(counters.filteredOut) filtered out, \(counters.missingValue) missing value, \(counters.overflowed) overflowed"
        ))
        lines.append(("backfill", backfill(meter.backfill)))
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n")
    }

    /// A meter as a JSON object with snake_case keys; decimals and times as strings.
    static func meterJSON(_ meter: Meterd_V1_Meter) -> JSONOutput {
        let definition = meter.definition
        var members: [(String, JSONOutput)] = [
            ("id", .string(meter.id)),
            ("event_name", .string(definition.eventName)),
            ("display_name", .string(definition.displayName)),
            ("status", .string(status(meter.status))),
            ("aggregation", .string(aggregation(definition.aggregation))),
            ("field", definition.field.isEmpty ? .null : .string(definition.field)),
            ("multiplier", definition.multiplier.isEmpty ? .null : .string(definition.multiplier)),
            ("filters", .array(definition.filters.map { .object([("key", .string($0.key)), ("values", .array($0.values.map(JSONOutput.string)))]) })),
            ("group_by", .array(definition.groupBy.map(JSONOutput.string))),
            ("reset", .string(reset(definition.reset))),
        ]
        if definition.reset == .periodic {
            members.append(("billing_period", .string(period(definition.billingPeriod))))
            members.append(("anchor", .string(time(definition.hasAnchor_p ? definition.anchorMs : ResetPolicy.defaultAnchorMilliseconds))))
        }
        members.append(("created_at", .string(time(meter.createdAtMs))))
        members.append(("archived_at", meter.status == .archived ? .string(time(meter.archivedAtMs)) : .null))
        members.append(("counters", .object([
            ("counted", .unsignedInteger(meter.counters.counted)),
            ("filtered_out", .unsignedInteger(meter.counters.filteredOut)),
            ("missing_value", .unsignedInteger(meter.counters.missingValue)),
            ("overflowed", .unsignedInteger(meter.counters.overflowed)),
        ])))
        members.append(("backfill", .object([
            ("complete", .bool(meter.backfill.complete)),
            ("target_sequence", .unsignedInteger(meter.backfill.targetSequence)),
            ("completed_through_sequence", .unsignedInteger(meter.backfill.completedThroughSequence)),
            ("events_counted", .unsignedInteger(meter.backfill.eventsCounted)),
        ])))
        return .object(members)
    }
}
