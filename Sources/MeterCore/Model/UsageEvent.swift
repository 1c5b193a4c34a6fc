/// A usage event as a service sends it: who used what, when, with which properties.
///
/// `eventId` is the idempotency key: the same id sent twice inside the dedup window is counted
/// once. `timestampMilliseconds` is when the usage happened (Unix milliseconds, UTC), which is
/// the minute the usage lands in; the time meterd accepted the event is carried by the log
/// record instead.
public struct UsageEvent: Hashable, Sendable {
    public var eventId: String
    public var eventName: String
    public var customerId: String
    public var timestampMilliseconds: Int64
    public var properties: [EventProperty]
    public var source: String?

    public init(
        eventId: String,
        eventName: String,
        customerId: String,
        timestampMilliseconds: Int64,
        properties: [EventProperty] = [],
        source: String? = nil
    ) {
        self.eventId = eventId
        self.eventName = eventName
        self.customerId = customerId
        self.timestampMilliseconds = timestampMilliseconds
        self.properties = properties
        self.source = source
    }

    /// The value of property `key`, if the event carries it. Linear: events carry few properties.
    @inlinable
    public func property(_ key: String) -> PropertyValue? {
        for property in properties where property.key == key {
            return property.value
        }
        return nil
    }
}
