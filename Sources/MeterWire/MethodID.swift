/// Which RPC a REQUEST frame calls. Raw values are the wire numbers (docs/protocol.md).
public struct MethodID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public let name: String

    private init(_ rawValue: UInt16, _ name: String) {
        self.rawValue = rawValue
        self.name = name
    }

    public var description: String { name }

    public static let createMeter = MethodID(1, "Admin/CreateMeter")
    public static let getMeter = MethodID(2, "Admin/GetMeter")
    public static let listMeters = MethodID(3, "Admin/ListMeters")
    public static let updateMeter = MethodID(4, "Admin/UpdateMeter")
    public static let archiveMeter = MethodID(5, "Admin/ArchiveMeter")
    public static let ingest = MethodID(16, "Ingest/Ingest")
    public static let ingestBatch = MethodID(17, "Ingest/IngestBatch")
    public static let queryUsage = MethodID(32, "Query/QueryUsage")
    public static let currentUsage = MethodID(33, "Query/CurrentUsage")
    public static let healthCheck = MethodID(48, "Health/Check")
    public static let serverInfo = MethodID(49, "Health/ServerInfo")
    public static let createApiKey = MethodID(64, "Access/CreateApiKey")
    public static let listApiKeys = MethodID(65, "Access/ListApiKeys")
    public static let revokeApiKey = MethodID(66, "Access/RevokeApiKey")
    public static let listAuditEntries = MethodID(67, "Access/ListAuditEntries")
    public static let setEntitlement = MethodID(80, "Entitlements/SetEntitlement")
    public static let listEntitlements = MethodID(81, "Entitlements/ListEntitlements")
    public static let removeEntitlement = MethodID(82, "Entitlements/RemoveEntitlement")
    public static let addGrant = MethodID(83, "Entitlements/AddGrant")
    public static let removeGrant = MethodID(84, "Entitlements/RemoveGrant")
    public static let checkEntitlement = MethodID(85, "Entitlements/CheckEntitlement")
    public static let addThresholdRule = MethodID(86, "Entitlements/AddThresholdRule")
    public static let listThresholdRules = MethodID(87, "Entitlements/ListThresholdRules")
    public static let removeThresholdRule = MethodID(88, "Entitlements/RemoveThresholdRule")
    public static let listNotifications = MethodID(89, "Entitlements/ListNotifications")
    public static let getWebhookStatus = MethodID(90, "Entitlements/GetWebhookStatus")
    /// A server-streaming method: MESSAGE frames, then one RESPONSE (docs/protocol.md, "Server streams").
    public static let watchNotifications = MethodID(91, "Entitlements/WatchNotifications")

    public static let all: [MethodID] = [
        .createMeter, .getMeter, .listMeters, .updateMeter, .archiveMeter, .ingest, .ingestBatch,
        .queryUsage, .currentUsage, .healthCheck, .serverInfo,
        .createApiKey, .listApiKeys, .revokeApiKey, .listAuditEntries,
        .setEntitlement, .listEntitlements, .removeEntitlement, .addGrant, .removeGrant, .checkEntitlement,
        .addThresholdRule, .listThresholdRules, .removeThresholdRule, .listNotifications, .getWebhookStatus,
        .watchNotifications,
    ]

    public init?(rawValue: UInt16) {
        guard let known = Self.all.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = known
    }
}

/// A reply's status, numbered as gRPC's codes so that clients can map them familiarly.
/// A struct over fixed numbers: an unknown code from a newer server still decodes.
public struct StatusCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ok = StatusCode(rawValue: 0)
    public static let cancelled = StatusCode(rawValue: 1)
    public static let unknown = StatusCode(rawValue: 2)
    public static let invalidArgument = StatusCode(rawValue: 3)
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    public static let notFound = StatusCode(rawValue: 5)
    public static let alreadyExists = StatusCode(rawValue: 6)
    public static let permissionDenied = StatusCode(rawValue: 7)
    public static let resourceExhausted = StatusCode(rawValue: 8)
    public static let failedPrecondition = StatusCode(rawValue: 9)
    public static let aborted = StatusCode(rawValue: 10)
    public static let outOfRange = StatusCode(rawValue: 11)
    public static let unimplemented = StatusCode(rawValue: 12)
    public static let internalError = StatusCode(rawValue: 13)
    public static let unavailable = StatusCode(rawValue: 14)
    public static let dataLoss = StatusCode(rawValue: 15)
    public static let unauthenticated = StatusCode(rawValue: 16)

    private static let names: [UInt16: String] = [
        0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
        6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
        10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE",
        15: "DATA_LOSS", 16: "UNAUTHENTICATED",
    ]

    public var description: String { Self.names[rawValue] ?? "STATUS_\(rawValue)" }

    /// Whether a client may retry the same request (same event ids) later.
    public var isRetryable: Bool { self == .unavailable || self == .resourceExhausted || self == .deadlineExceeded }
}
