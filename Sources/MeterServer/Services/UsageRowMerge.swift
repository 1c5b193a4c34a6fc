import MeterCore
import MeterProto
import MeterWire
import MeterWireServer

/// Partitioned cluster mode (docs/cluster.md, "Queries over every customer"): puts the answers
/// of several event partitions to one usage query together, so that the result is the answer a
/// single node holding every partition gives.
///
/// A customer's usage lies in one partition, so rows broken down by customer are put together
/// as they are (in a single node's order: customer id, group values, window). Rows over every
/// customer are combined per group and window: COUNT and SUM (exact decimal addition), MIN and
/// MAX. The other aggregations cannot be combined exactly from the partitions' rows (an AVG is
/// rounded, COUNT_UNIQUE's values may repeat across partitions, LATEST needs the events'
/// times, a fractional SUM multiplier rounds each part), so such a query must group by customer.
enum UsageRowMerge {
    /// Why a query over every customer with `aggregation` cannot be merged exactly from the
    /// partitions' answers; nil when it can.
    static func refusal(_ aggregation: Aggregation, groupsByCustomer: Bool) -> RPCFailure? {
        if groupsByCustomer { return nil }
        let why: String
        switch aggregation.kind {
        case .count, .minimum, .maximum:
            return nil
        case .sum:
            guard let multiplier = aggregation.multiplier, !multiplier.units.isMultiple(of: ExactDecimal.unitsPerOne) else { return nil }
            why = "its multiplier \(multiplier) is not a whole number (each partition's product is rounded)"
        case .average:
            why = "an average of averages is not the average"
        case .countUnique:
            why = "a value may be counted in several partitions"
        case .latest:
            why = "the partitions' rows do not carry the events' times"
        }
        return RPCFailure(.invalidArgument,
                          "in partitioned cluster mode a \(aggregation.kind.rawValue) meter's usage over every customer cannot be combined exactly from the partitions (\(why)): "
                          + "group by customer (group_by_customer, or groupBy=subject over HTTP), or ask for one customer",
                          reason: RejectionCode.invalidQuery.name)
    }

    /// One output group of rows: the customer (empty when not broken down by customer) and
    /// the group values.
    private struct Key: Hashable {
        var customer: String
        var group: [String?]
    }

    /// Puts the partitions' rows together. Each part is one answer's rows, in its order (every
    /// window of a group, in window order). Throws when the parts disagree on the windows, when
    /// rows that cannot be combined meet, or when the answer grows beyond the row limit.
    static func merge(_ parts: [[UsageRow]], aggregation: Aggregation) throws(RPCFailure) -> [UsageRow] {
        if parts.count == 1 { return parts[0] }
        var groups: [Key: [UsageRow]] = [:]
        for part in parts {
            var index = 0
            while index < part.count {
                let first = part[index]
                let key = Key(customer: first.customerId ?? "", group: first.group.map(\.value))
                var end = index + 1
                while end < part.count, part[end].customerId == first.customerId, part[end].group == first.group { end += 1 }
                let rows = Array(part[index..<end])
                index = end
                guard let existing = groups[key] else {
                    groups[key] = rows
                    continue
                }
                guard existing.count == rows.count, zip(existing, rows).allSatisfy({ $0.windowStartMilliseconds == $1.windowStartMilliseconds }) else {
                    throw RPCFailure(.internalError, "the partitions answered different windows for one query; retry")
                }
                if key.customer != "" || refusal(aggregation, groupsByCustomer: false) != nil {
                    throw RPCFailure(.internalError, "customer \(key.customer) was answered by two partitions; retry")
                }
                var combined: [UsageRow] = []
                combined.reserveCapacity(rows.count)
                for (left, right) in zip(existing, rows) { combined.append(try combine(left, right, kind: aggregation.kind)) }
                groups[key] = combined
            }
        }
        let keys = groups.keys.sorted { first, second in
            if first.customer != second.customer { return first.customer < second.customer }
            return first.group.lexicographicallyPrecedes(second.group) { ($0 ?? "") < ($1 ?? "") || ($0 == nil && $1 != nil) }
        }
        var rows: [UsageRow] = []
        for key in keys { rows += groups[key]! }
        guard rows.count <= UsageQuery.rowsMaximumCount else {
            throw RPCFailure(.invalidArgument, "the answer would hold \(rows.count) rows, more than \(UsageQuery.rowsMaximumCount); use a larger window size, a shorter range, one customer, or fewer group-by keys",
                             reason: RejectionCode.invalidQuery.name)
        }
        return rows
    }

    /// One window of one group from two partitions.
    private static func combine(_ left: UsageRow, _ right: UsageRow, kind: AggregationKind) throws(RPCFailure) -> UsageRow {
        var row = left
        let (count, overflow) = left.eventCount.addingReportingOverflow(right.eventCount)
        guard !overflow else { throw Self.overflow }
        row.eventCount = count
        switch (left.value, right.value) {
        case (nil, _): row.value = right.value
        case (_, nil): row.value = left.value
        case (let first?, let second?):
            switch kind {
            case .count, .sum:
                do {
                    row.value = try first.adding(second)
                } catch {
                    throw Self.overflow
                }
            case .minimum: row.value = Swift.min(first, second)
            case .maximum: row.value = Swift.max(first, second)
            case .average, .countUnique, .latest:
                preconditionFailure("refused before merging")
            }
        }
        return row
    }

    private static let overflow = RPCFailure(.outOfRange, "the aggregate exceeds the supported range of ±1.7×10^29", reason: RejectionCode.valueOverflow.name)

    // MARK: Rows of another node

    /// The rows of an owner's answer, read back (values beyond the input range included).
    static func rows(_ rows: [Meterd_V1_UsageRow]) throws(RPCFailure) -> [UsageRow] {
        var result: [UsageRow] = []
        result.reserveCapacity(rows.count)
        for row in rows {
            var value: ExactDecimal?
            if row.hasValue_p {
                guard let units = units(row.value) else { throw RPCFailure(.internalError, "a partition owner answered the value \"\(row.value.prefix(50))\", which is not decimal text") }
                value = ExactDecimal(units: units)
            }
            result.append(UsageRow(windowStartMilliseconds: row.windowStartMs, windowEndMilliseconds: row.windowEndMs,
                                   customerId: row.customerID.isEmpty ? nil : row.customerID,
                                   group: row.group.map { GroupValue(key: $0.key, value: $0.present ? $0.value : nil) },
                                   value: value, eventCount: row.eventCount))
        }
        return result
    }

    /// The units of canonical decimal text (`ExactDecimal.description`), over the whole Int128
    /// range (sums may exceed what events may carry); nil when it is not such text.
    static func units(_ text: String) -> Int128? {
        var bytes = Substring(text).utf8[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        guard let first = bytes.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return nil }
        var units: Int128 = 0
        var fractionDigits = -1
        var digits = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard fractionDigits < 0 else { return nil }
                fractionDigits = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            if fractionDigits >= 0 {
                fractionDigits += 1
                guard fractionDigits <= ExactDecimal.scale else { return nil }
            }
            digits += 1
            let (times, overflow1) = units.multipliedReportingOverflow(by: 10)
            let (plus, overflow2) = times.addingReportingOverflow(negative ? -Int128(byte - UInt8(ascii: "0")) : Int128(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            units = plus
        }
        guard digits > 0, fractionDigits != 0 else { return nil }
        for _ in 0..<(ExactDecimal.scale - max(fractionDigits, 0)) {
            let (times, overflow) = units.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            units = times
        }
        return units
    }
}
