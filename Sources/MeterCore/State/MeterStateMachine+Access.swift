/// API keys and the audit trail. Keys are state like meters: created and revoked only by
/// applying log records, so they replay and are in snapshots. The state machine holds each
/// key's SHA-256 and never a secret.
extension MeterStateMachine {
    // MARK: Validation without side effects

    /// Checks that `definition` can be created: a valid tenant, name and 32-byte hash.
    public func validateKeyCreate(_ definition: ApiKeyDefinition) throws(MeterError) {
        try ApiKeyValidation.validate(definition)
    }

    /// Checks that `keyId` is a key of `tenantId` that is not revoked yet.
    public func validateKeyRevoke(tenantId: String, keyId: String) throws(MeterError) {
        guard let key = apiKeysById[keyId], key.definition.tenantId == tenantId else {
            throw MeterError(.keyNotFound, "no key with id \(quoted(keyId))")
        }
        guard !key.isRevoked else {
            throw MeterError(.keyRevoked, "key \(keyId) is already revoked")
        }
    }

    // MARK: Reading

    /// Every key of every tenant, in creation order (the server's authenticator loads them).
    public var apiKeys: [ApiKey] { apiKeyOrder.map { apiKeysById[$0]! } }

    /// The keys of one tenant, in creation order.
    public func apiKeys(tenantId: String, includeRevoked: Bool) -> [ApiKey] {
        apiKeys.filter { $0.definition.tenantId == tenantId && (includeRevoked || !$0.isRevoked) }
    }

    /// The audit entries `query` selects, oldest first (the newest `query.limit` of them).
    public func auditEntries(_ query: AuditQuery) -> [AuditEntry] {
        Array(auditTrail.filter(query.matches).suffix(Swift.max(0, query.limit)))
    }

    // MARK: Applying

    func applyKeyCreated(_ definition: ApiKeyDefinition, createdBy actor: AuditActor, atMilliseconds: Int64, sequence: UInt64) -> ApplyOutcome {
        do throws(MeterError) {
            try validateKeyCreate(definition)
        } catch {
            return .refused(error)
        }
        let key = ApiKey(id: "key_\(nextApiKeyNumber)", definition: definition, createdAtMilliseconds: atMilliseconds, createdBy: actor)
        nextApiKeyNumber += 1
        apiKeysById[key.id] = key
        apiKeyOrder.append(key.id)
        auditTrail.append(AuditEntry(sequence: sequence, atMilliseconds: atMilliseconds, tenantId: definition.tenantId, actor: actor,
                                     action: .keyCreated, targetId: key.id, detail: "\(definition.name) (\(definition.role))"))
        return .apiKeyChanged(key)
    }

    func applyKeyRevoked(tenantId: String, keyId: String, revokedBy actor: AuditActor, atMilliseconds: Int64, sequence: UInt64) -> ApplyOutcome {
        do throws(MeterError) {
            try validateKeyRevoke(tenantId: tenantId, keyId: keyId)
        } catch {
            return .refused(error)
        }
        apiKeysById[keyId]!.revokedAtMilliseconds = atMilliseconds
        let key = apiKeysById[keyId]!
        auditTrail.append(AuditEntry(sequence: sequence, atMilliseconds: atMilliseconds, tenantId: tenantId, actor: actor,
                                     action: .keyRevoked, targetId: keyId, detail: "\(key.definition.name) (\(key.definition.role))"))
        return .apiKeyChanged(key)
    }

    /// Adds the audit entry of a meter record that `actor` made, when it applied.
    func recordAudit(of record: StateRecord, outcome: ApplyOutcome, actor: AuditActor, sequence: UInt64) {
        let meter: Meter
        switch outcome {
        case .meterCreated(let changed), .meterUpdated(let changed): meter = changed
        case .events, .backfillProgress, .apiKeyChanged, .entitlementChanged, .refused: return
        }
        let entry: (AuditAction, Int64, String)
        switch record {
        case .meterCreated(_, let at): entry = (.meterCreated, at, meter.definition.eventName)
        case .meterDisplayNameChanged(_, _, let displayName, let at): entry = (.meterUpdated, at, "display name: \(displayName)")
        case .meterArchived(_, _, let at): entry = (.meterArchived, at, meter.definition.eventName)
        default: return
        }
        auditTrail.append(AuditEntry(sequence: sequence, atMilliseconds: entry.1, tenantId: meter.definition.tenantId, actor: actor,
                                     action: entry.0, targetId: meter.id, detail: entry.2))
    }
}
