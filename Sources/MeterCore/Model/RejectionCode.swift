/// Why a request or an event was refused. A struct over fixed wire numbers, so that new codes
/// can be added without breaking clients that only know the old ones.
public struct RejectionCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public let name: String

    private init(_ rawValue: UInt32, _ name: String) {
        self.rawValue = rawValue
        self.name = name
    }

    public var description: String { name }

    // Events
    public static let invalidEventId = RejectionCode(1, "INVALID_EVENT_ID")
    public static let invalidEventName = RejectionCode(2, "INVALID_EVENT_NAME")
    public static let invalidCustomerId = RejectionCode(3, "INVALID_CUSTOMER_ID")
    public static let timestampTooOld = RejectionCode(4, "TIMESTAMP_TOO_OLD")
    public static let timestampInFuture = RejectionCode(5, "TIMESTAMP_IN_FUTURE")
    public static let invalidProperty = RejectionCode(6, "INVALID_PROPERTY")
    public static let tooManyProperties = RejectionCode(7, "TOO_MANY_PROPERTIES")
    public static let invalidSource = RejectionCode(8, "INVALID_SOURCE")
    public static let batchTooLarge = RejectionCode(9, "BATCH_TOO_LARGE")
    public static let quotaCustomersPerMeter = RejectionCode(10, "QUOTA_CUSTOMERS_PER_METER")
    public static let quotaSeriesPerMeter = RejectionCode(11, "QUOTA_SERIES_PER_METER")
    /// A timestamp that is not a time at all (the HTTP API's `time` that is not RFC 3339).
    public static let invalidTimestamp = RejectionCode(12, "INVALID_TIMESTAMP")
    // Meters
    public static let invalidDisplayName = RejectionCode(20, "INVALID_DISPLAY_NAME")
    public static let invalidFilter = RejectionCode(21, "INVALID_FILTER")
    public static let invalidAggregation = RejectionCode(22, "INVALID_AGGREGATION")
    public static let invalidReset = RejectionCode(23, "INVALID_RESET")
    public static let invalidGroupBy = RejectionCode(24, "INVALID_GROUP_BY")
    public static let invalidTenant = RejectionCode(25, "INVALID_TENANT")
    public static let meterAlreadyExists = RejectionCode(26, "METER_ALREADY_EXISTS")
    public static let meterNotFound = RejectionCode(27, "METER_NOT_FOUND")
    public static let meterArchived = RejectionCode(28, "METER_ARCHIVED")
    public static let immutableField = RejectionCode(29, "IMMUTABLE_FIELD")
    // Queries
    public static let invalidQuery = RejectionCode(40, "INVALID_QUERY")
    public static let resolutionUnavailable = RejectionCode(41, "RESOLUTION_UNAVAILABLE")
    public static let valueOverflow = RejectionCode(42, "VALUE_OVERFLOW")
    // API keys
    public static let invalidKey = RejectionCode(60, "INVALID_KEY")
    public static let keyNotFound = RejectionCode(61, "KEY_NOT_FOUND")
    public static let keyRevoked = RejectionCode(62, "KEY_REVOKED")
    // Entitlements, grants and threshold rules
    public static let invalidEntitlement = RejectionCode(80, "INVALID_ENTITLEMENT")
    public static let entitlementNotFound = RejectionCode(81, "ENTITLEMENT_NOT_FOUND")
    public static let invalidGrant = RejectionCode(82, "INVALID_GRANT")
    public static let grantNotFound = RejectionCode(83, "GRANT_NOT_FOUND")
    public static let invalidThresholdRule = RejectionCode(84, "INVALID_THRESHOLD_RULE")
    public static let thresholdRuleNotFound = RejectionCode(85, "THRESHOLD_RULE_NOT_FOUND")

    /// Every code, for wire decoding and documentation.
    public static let all: [RejectionCode] = [
        .invalidEventId, .invalidEventName, .invalidCustomerId, .timestampTooOld, .timestampInFuture,
        .invalidProperty, .tooManyProperties, .invalidSource, .batchTooLarge, .invalidTimestamp,
        .quotaCustomersPerMeter, .quotaSeriesPerMeter,
        .invalidDisplayName, .invalidFilter, .invalidAggregation, .invalidReset, .invalidGroupBy,
        .invalidTenant, .meterAlreadyExists, .meterNotFound, .meterArchived, .immutableField,
        .invalidQuery, .resolutionUnavailable, .valueOverflow,
        .invalidKey, .keyNotFound, .keyRevoked,
        .invalidEntitlement, .entitlementNotFound, .invalidGrant, .grantNotFound, .invalidThresholdRule, .thresholdRuleNotFound,
    ]

    /// The code with this wire number, if it is known.
    public init?(rawValue: UInt32) {
        guard let code = Self.all.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = code
    }
}

/// A refusal with its code and a message a person can act on.
public struct MeterError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: RejectionCode
    public let message: String

    public init(_ code: RejectionCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name): \(message)" }
}
