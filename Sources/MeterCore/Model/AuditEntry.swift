/// Who did an admin action: an API key, a local user on the Unix socket (by user id), or the
/// server itself (the bootstrap key of a new data directory).
public enum AuditActor: Hashable, Sendable, CustomStringConvertible {
    case apiKey(id: String)
    case localUser(uid: UInt32)
    case bootstrap

    /// "key key_3", "uid 1000" or "bootstrap".
    public var description: String {
        switch self {
        case .apiKey(let id): return "key \(id)"
        case .localUser(let uid): return "uid \(uid)"
        case .bootstrap: return "bootstrap"
        }
    }

    /// The acting key's id, nil for the others.
    public var keyId: String? {
        if case .apiKey(let id) = self { return id }
        return nil
    }
}

/// The kinds of admin action the audit trail records. Raw values are the names shown and stored.
public enum AuditAction: String, Hashable, Sendable, CaseIterable {
    case meterCreated = "meter.create"
    case meterUpdated = "meter.update"
    case meterArchived = "meter.archive"
    case keyCreated = "key.create"
    case keyRevoked = "key.revoke"
    case entitlementSet = "entitlement.set"
    case entitlementRemoved = "entitlement.remove"
    case grantAdded = "grant.add"
    case grantRemoved = "grant.remove"
    case thresholdRuleAdded = "threshold.add"
    case thresholdRuleRemoved = "threshold.remove"
}

/// One admin action as applied from the log: where it is in the log, when, in which tenant,
/// by whom, what was done to which meter or key, and a short description of the change.
public struct AuditEntry: Hashable, Sendable {
    public var sequence: UInt64
    public var atMilliseconds: Int64
    public var tenantId: String
    public var actor: AuditActor
    public var action: AuditAction
    public var targetId: String
    public var detail: String

    public init(sequence: UInt64, atMilliseconds: Int64, tenantId: String, actor: AuditActor, action: AuditAction,
                targetId: String, detail: String) {
        self.sequence = sequence
        self.atMilliseconds = atMilliseconds
        self.tenantId = tenantId
        self.actor = actor
        self.action = action
        self.targetId = targetId
        self.detail = detail
    }
}

/// Which audit entries to list.
public struct AuditQuery: Hashable, Sendable {
    public var tenantId: String
    /// [from, to) in Unix milliseconds; nil is unbounded.
    public var fromMilliseconds: Int64?
    public var toMilliseconds: Int64?
    /// Only actions by this key or on it.
    public var keyId: String?
    /// Only actions on this meter (its id).
    public var meterId: String?
    /// At most this many, the newest.
    public var limit: Int

    public init(tenantId: String, fromMilliseconds: Int64? = nil, toMilliseconds: Int64? = nil, keyId: String? = nil,
                meterId: String? = nil, limit: Int = 1000) {
        self.tenantId = tenantId
        self.fromMilliseconds = fromMilliseconds
        self.toMilliseconds = toMilliseconds
        self.keyId = keyId
        self.meterId = meterId
        self.limit = limit
    }

    func matches(_ entry: AuditEntry) -> Bool {
        guard entry.tenantId == tenantId else { return false }
        if let fromMilliseconds, entry.atMilliseconds < fromMilliseconds { return false }
        if let toMilliseconds, entry.atMilliseconds >= toMilliseconds { return false }
        if let keyId, entry.actor.keyId != keyId, !(entry.targetId == keyId && entry.action.rawValue.hasPrefix("key.")) { return false }
        if let meterId, !(entry.targetId == meterId && entry.action.rawValue.hasPrefix("meter.")) { return false }
        return true
    }
}
