/// Checks a meter definition on its own (the state machine adds the uniqueness check).
public enum MeterValidation {
    /// Throws the first rule `definition` breaks, with a message that names the field.
    public static func validate(_ definition: MeterDefinition) throws(MeterError) {
        guard NameRules.isValidEventName(definition.tenantId) else {
            throw MeterError(.invalidTenant, "tenant id \(quoted(definition.tenantId)) is invalid: use \(NameRules.eventNameRule)")
        }
        guard NameRules.isValidEventName(definition.eventName) else {
            throw MeterError(.invalidEventName, "event name \(quoted(definition.eventName)) is invalid: use \(NameRules.eventNameRule)")
        }
        try validateDisplayName(definition.displayName)
        try validateFilters(definition.filters)
        try validateAggregation(definition.aggregation)
        try validateReset(definition.reset)
        try validateGroupBy(definition.groupBy)
    }

    /// Display names: 1–128 characters, not only spaces, no control characters.
    public static func validateDisplayName(_ displayName: String) throws(MeterError) {
        let characters = displayName.count
        guard characters >= 1, characters <= NameRules.displayNameMaximumCharacters else {
            throw MeterError(.invalidDisplayName, "display name must be 1-\(NameRules.displayNameMaximumCharacters) characters, got \(characters)")
        }
        guard !displayName.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw MeterError(.invalidDisplayName, "display name must not contain control characters")
        }
        guard displayName.contains(where: { !$0.isWhitespace }) else {
            throw MeterError(.invalidDisplayName, "display name must not be blank")
        }
    }

    static func validateFilters(_ filters: [MeterFilter]) throws(MeterError) {
        var keys = PropertyKeyList(code: .invalidFilter, keyName: "filter key", duplicateAdvice: "; list all its values in one filter")
        try keys.checkCount(filters.count, maximum: NameRules.filtersMaximumCount, of: "filters")
        for filter in filters {
            try keys.add(filter.key)
            guard !filter.values.isEmpty, filter.values.count <= NameRules.filterValuesMaximumCount else {
                throw MeterError(.invalidFilter, "filter \(quoted(filter.key)) needs 1-\(NameRules.filterValuesMaximumCount) values, got \(filter.values.count)")
            }
            var values = Set<String>()
            for value in filter.values {
                guard NameRules.isValidIdentifier(value, maximumBytes: EventLimits().propertyValueMaximumBytes) else {
                    throw MeterError(.invalidFilter, "filter \(quoted(filter.key)) has an empty, too long or control-character value")
                }
                guard values.insert(value).inserted else {
                    throw MeterError(.invalidFilter, "filter \(quoted(filter.key)) lists value \(quoted(value)) twice")
                }
            }
        }
    }

    static func validateAggregation(_ aggregation: Aggregation) throws(MeterError) {
        let kind = aggregation.kind
        if kind == .count {
            guard aggregation.field == nil else {
                throw MeterError(.invalidAggregation, "COUNT counts events and takes no field; remove the field or use SUM")
            }
        } else {
            guard let field = aggregation.field else {
                throw MeterError(.invalidAggregation, "\(kind.rawValue) needs a field naming the property to aggregate")
            }
            guard NameRules.isValidPropertyKey(field) else {
                throw MeterError(.invalidAggregation, "aggregation field \(quoted(field)) is invalid: use \(NameRules.propertyKeyRule)")
            }
        }
        if let multiplier = aggregation.multiplier {
            guard kind == .sum else {
                throw MeterError(.invalidAggregation, "a multiplier is only allowed on SUM, not \(kind.rawValue)")
            }
            guard !multiplier.isNegative, !multiplier.isZero else {
                throw MeterError(.invalidAggregation, "multiplier must be positive, got \(multiplier)")
            }
            guard multiplier.units < ExactDecimal.maximumInputMagnitudeUnits else {
                throw MeterError(.invalidAggregation, "multiplier must be below 10^20, got \(multiplier)")
            }
        }
    }

    static func validateReset(_ reset: ResetPolicy) throws(MeterError) {
        guard case .periodic(_, let anchor) = reset else { return }
        guard anchor.isMultiple(of: 3_600_000) else {
            throw MeterError(.invalidReset, "billing anchor must be on a whole UTC hour (old usage is kept at hour resolution)")
        }
        // Keep anchors inside years 1970-9999 so period arithmetic never leaves Int64.
        guard anchor >= 0, anchor < 253_402_300_800_000 else {
            throw MeterError(.invalidReset, "billing anchor must be between 1970 and 9999")
        }
    }

    static func validateGroupBy(_ groupBy: [String]) throws(MeterError) {
        var keys = PropertyKeyList(code: .invalidGroupBy, keyName: "group-by key", duplicateAdvice: "")
        try keys.checkCount(groupBy.count, maximum: NameRules.groupByMaximumCount, of: "group-by keys")
        for key in groupBy { try keys.add(key) }
    }
}

/// The rule filters and group-by keys share: at most so many, each a valid property key, none
/// twice; a break is refused with `code` and a message naming the key.
private struct PropertyKeyList {
    let code: RejectionCode
    /// "filter key", "group-by key".
    let keyName: String
    /// Appended to the message about a key given twice.
    let duplicateAdvice: String
    private var seen = Set<String>()

    init(code: RejectionCode, keyName: String, duplicateAdvice: String) {
        self.code = code
        self.keyName = keyName
        self.duplicateAdvice = duplicateAdvice
    }

    func checkCount(_ count: Int, maximum: Int, of noun: String) throws(MeterError) {
        guard count <= maximum else { throw MeterError(code, "at most \(maximum) \(noun), got \(count)") }
    }

    mutating func add(_ key: String) throws(MeterError) {
        guard NameRules.isValidPropertyKey(key) else {
            throw MeterError(code, "\(keyName) \(quoted(key)) is invalid: use \(NameRules.propertyKeyRule)")
        }
        guard seen.insert(key).inserted else {
            throw MeterError(code, "\(keyName) \(quoted(key)) appears twice\(duplicateAdvice)")
        }
    }
}

/// Quotes user text for an error message, cutting it so a huge input cannot bloat the reply.
func quoted(_ text: String) -> String {
    let limit = 80
    if text.utf8.count <= limit { return "\"\(text)\"" }
    return "\"\(text.prefix(limit))…\""
}
