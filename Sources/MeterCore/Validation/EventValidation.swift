/// Checks one event on its own: sizes, names and the timestamp window.
public enum EventValidation {
    /// Throws the first rule `event` breaks. `nowMilliseconds` is the accept time the caller
    /// will also record in the log, so the check is repeatable.
    public static func validate(
        _ event: UsageEvent,
        nowMilliseconds: Int64,
        configuration: MeterCoreConfiguration
    ) throws(MeterError) {
        let limits = configuration.limits
        guard NameRules.isValidIdentifier(event.eventId, maximumBytes: limits.eventIdMaximumBytes) else {
            throw MeterError(.invalidEventId, "event_id must be 1-\(limits.eventIdMaximumBytes) bytes without control characters")
        }
        guard NameRules.isValidEventName(event.eventName) else {
            throw MeterError(.invalidEventName, "event_name \(quoted(event.eventName)) is invalid: use \(NameRules.eventNameRule)")
        }
        guard NameRules.isValidIdentifier(event.customerId, maximumBytes: limits.customerIdMaximumBytes) else {
            throw MeterError(.invalidCustomerId, "customer_id must be 1-\(limits.customerIdMaximumBytes) bytes without control characters")
        }
        if event.timestampMilliseconds < nowMilliseconds &- configuration.lateWindowMilliseconds {
            throw MeterError(.timestampTooOld, "timestamp is more than \(configuration.lateWindowMilliseconds / 1000) s before the accept time")
        }
        if event.timestampMilliseconds > nowMilliseconds &+ configuration.futureSkewMilliseconds {
            throw MeterError(.timestampInFuture, "timestamp is more than \(configuration.futureSkewMilliseconds / 1000) s after the accept time")
        }
        if let source = event.source {
            guard NameRules.isValidIdentifier(source, maximumBytes: limits.sourceMaximumBytes) else {
                throw MeterError(.invalidSource, "source must be 1-\(limits.sourceMaximumBytes) bytes without control characters")
            }
        }
        try validateProperties(event.properties, limits: limits)
    }

    static func validateProperties(_ properties: [EventProperty], limits: EventLimits) throws(MeterError) {
        guard properties.count <= limits.propertiesMaximumCount else {
            throw MeterError(.tooManyProperties, "at most \(limits.propertiesMaximumCount) properties, got \(properties.count)")
        }
        // By index, without copying each property (a retain and release per string), ~15% of
        // validation on the ingest path.
        for index in properties.indices {
            guard NameRules.isValidPropertyKey(properties[index].key) else {
                throw MeterError(.invalidProperty, "property key \(quoted(properties[index].key)) is invalid: use \(NameRules.propertyKeyRule)")
            }
            if case .string(let text) = properties[index].value, text.utf8.count > limits.propertyValueMaximumBytes {
                throw MeterError(.invalidProperty, "property \(quoted(properties[index].key)) is longer than \(limits.propertyValueMaximumBytes) bytes")
            }
            for earlier in 0..<index where properties[earlier].key == properties[index].key {
                throw MeterError(.invalidProperty, "property \(quoted(properties[index].key)) appears twice")
            }
        }
    }
}
