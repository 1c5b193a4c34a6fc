/// The access-control part of a snapshot (format version 2, after the meters): the next key
/// number, every key in creation order (hash, never a secret), then the audit trail in log order.
extension MeterStateMachine {
    func writeAccess(to writer: inout BinaryWriter) {
        writer.write(varint: nextApiKeyNumber)
        writer.write(varint: UInt64(apiKeyOrder.count))
        for id in apiKeyOrder {
            let key = apiKeysById[id]!
            writer.write(string: key.id)
            let record = RecordCodec.encode(.apiKeyCreated(key.definition, createdBy: key.createdBy, atMilliseconds: key.createdAtMilliseconds))
            writer.write(varint: UInt64(record.payload.count))
            writer.write(bytes: record.payload[...])
            writer.write(bool: key.revokedAtMilliseconds != nil)
            if let revoked = key.revokedAtMilliseconds { writer.write(signed: revoked) }
        }
        writer.write(varint: UInt64(auditTrail.count))
        for entry in auditTrail {
            writer.write(varint: entry.sequence)
            writer.write(signed: entry.atMilliseconds)
            writer.write(string: entry.tenantId)
            RecordCodec.write(entry.actor, to: &writer)
            writer.write(string: entry.action.rawValue)
            writer.write(string: entry.targetId)
            writer.write(string: entry.detail)
        }
    }

    func readAccess(from reader: inout BinaryReader) throws(DecodingError) {
        nextApiKeyNumber = try reader.readVarint()
        for _ in 0..<(try reader.readCount()) {
            let id = try reader.readString()
            let length = try reader.readCount()
            var payload: [UInt8] = []
            payload.reserveCapacity(length)
            for _ in 0..<length { payload.append(try reader.readByte()) }
            guard case .apiKeyCreated(let definition, let actor, let at) = try RecordCodec.decode(type: RecordCodec.apiKeyCreatedType, payload: payload) else {
                throw DecodingError("snapshot key \(id) does not decode")
            }
            let revoked: Int64? = try reader.readBool() ? try reader.readSigned() : nil
            apiKeysById[id] = ApiKey(id: id, definition: definition, createdAtMilliseconds: at, createdBy: actor, revokedAtMilliseconds: revoked)
            apiKeyOrder.append(id)
        }
        for _ in 0..<(try reader.readCount()) {
            let sequence = try reader.readVarint()
            let at = try reader.readSigned()
            let tenantId = try reader.readString()
            let actor = try RecordCodec.readActor(from: &reader)
            let actionName = try reader.readString()
            guard let action = AuditAction(rawValue: actionName) else { throw DecodingError("unknown audit action \(actionName)") }
            auditTrail.append(AuditEntry(sequence: sequence, atMilliseconds: at, tenantId: tenantId, actor: actor, action: action,
                                         targetId: try reader.readString(), detail: try reader.readString()))
        }
    }
}
