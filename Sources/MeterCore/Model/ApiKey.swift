/// What a credential may do in its tenant. Raw values are stored in the log: never renumber.
public enum KeyRole: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Everything: meters, keys, the audit trail, ingest, queries, health.
    case admin = 1
    /// Sending events only.
    case ingest = 2
    /// Meters, usage and health, read only.
    case read = 3

    public var description: String {
        switch self {
        case .admin: return "admin"
        case .ingest: return "ingest"
        case .read: return "read"
        }
    }

    /// The role named `name` ("admin", "ingest", "read"), if any.
    public init?(name: String) {
        guard let role = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = role
    }
}

/// An API key as asked for: its tenant, name, role and the SHA-256 of its secret. MeterCore
/// never sees a secret and never computes a hash: the edge that made the secret hashes it, and
/// the log and snapshots hold only the 32 hash bytes.
public struct ApiKeyDefinition: Hashable, Sendable {
    public var tenantId: String
    public var name: String
    public var role: KeyRole
    public var secretHash: [UInt8]

    public init(tenantId: String, name: String, role: KeyRole, secretHash: [UInt8]) {
        self.tenantId = tenantId
        self.name = name
        self.role = role
        self.secretHash = secretHash
    }
}

/// An API key as the state machine holds it: the definition, its server-assigned id
/// ("key_" and a number, given in log order), when it was created and by whom, and when it
/// was revoked (nil while active).
public struct ApiKey: Hashable, Sendable {
    public var id: String
    public var definition: ApiKeyDefinition
    public var createdAtMilliseconds: Int64
    public var createdBy: AuditActor
    public var revokedAtMilliseconds: Int64?

    public init(id: String, definition: ApiKeyDefinition, createdAtMilliseconds: Int64, createdBy: AuditActor,
                revokedAtMilliseconds: Int64? = nil) {
        self.id = id
        self.definition = definition
        self.createdAtMilliseconds = createdAtMilliseconds
        self.createdBy = createdBy
        self.revokedAtMilliseconds = revokedAtMilliseconds
    }

    public var isRevoked: Bool { revokedAtMilliseconds != nil }
}

/// Rules for API key definitions, checked before a key record is written and again when it is
/// applied.
public enum ApiKeyValidation {
    /// Bytes of a SHA-256 digest.
    public static let secretHashBytes = 32
    public static let nameMaximumBytes = 64

    public static func validate(_ definition: ApiKeyDefinition) throws(MeterError) {
        guard NameRules.isValidEventName(definition.tenantId) else {
            throw MeterError(.invalidTenant, "tenant id is invalid: use 1-64 characters of a-z, 0-9, '_', '.', '-'")
        }
        let name = definition.name.utf8
        guard !name.isEmpty, name.count <= nameMaximumBytes,
              name.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), definition.name.first != " ", definition.name.last != " " else {
            throw MeterError(.invalidKey, "a key name has 1-64 printable ASCII characters and no leading or trailing space")
        }
        guard definition.secretHash.count == secretHashBytes else {
            throw MeterError(.invalidKey, "a key's secret hash has \(secretHashBytes) bytes, got \(definition.secretHash.count)")
        }
    }
}
