/// Payloads of the access-control records (types 6-8, see `RecordCodec`).
extension RecordCodec {
    static func encodeAccess(_ record: StateRecord) -> (type: UInt8, payload: [UInt8]) {
        var writer = BinaryWriter()
        switch record {
        case .apiKeyCreated(let definition, let actor, let at):
            writer.write(string: definition.tenantId)
            writer.write(string: definition.name)
            writer.write(byte: definition.role.rawValue)
            writer.write(varint: UInt64(definition.secretHash.count))
            writer.write(bytes: definition.secretHash[...])
            write(actor, to: &writer)
            writer.write(signed: at)
            return (apiKeyCreatedType, writer.bytes)
        case .apiKeyRevoked(let tenantId, let keyId, let actor, let at):
            writer.write(string: tenantId)
            writer.write(string: keyId)
            write(actor, to: &writer)
            writer.write(signed: at)
            return (apiKeyRevokedType, writer.bytes)
        case .audited(let actor, let inner):
            precondition(inner.isMeterChange, "only meter changes are wrapped in an audited record")
            let encoded = encode(inner)
            write(actor, to: &writer)
            writer.write(byte: encoded.type)
            writer.write(bytes: encoded.payload[...])
            return (auditedType, writer.bytes)
        default:
            preconditionFailure("not an access-control record: \(record)")
        }
    }

    static func decodeAccess(type: UInt8, from reader: inout BinaryReader) throws(DecodingError) -> StateRecord {
        switch type {
        case apiKeyCreatedType:
            let tenantId = try reader.readString()
            let name = try reader.readString()
            let roleByte = try reader.readByte()
            guard let role = KeyRole(rawValue: roleByte) else { throw DecodingError("unknown key role \(roleByte)") }
            let hashCount = try reader.readCount()
            var hash: [UInt8] = []
            for _ in 0..<hashCount { hash.append(try reader.readByte()) }
            let actor = try readActor(from: &reader)
            return .apiKeyCreated(ApiKeyDefinition(tenantId: tenantId, name: name, role: role, secretHash: hash),
                                  createdBy: actor, atMilliseconds: try reader.readSigned())
        case apiKeyRevokedType:
            let tenantId = try reader.readString()
            let keyId = try reader.readString()
            let actor = try readActor(from: &reader)
            return .apiKeyRevoked(tenantId: tenantId, keyId: keyId, revokedBy: actor, atMilliseconds: try reader.readSigned())
        default:
            let actor = try readActor(from: &reader)
            let innerType = try reader.readByte()
            guard [meterCreatedType, displayNameChangedType, meterArchivedType].contains(innerType) else {
                throw DecodingError("an audited record wraps record type \(innerType), which is not a meter change")
            }
            var rest: [UInt8] = []
            while !reader.isAtEnd { rest.append(try reader.readByte()) }
            return .audited(actor, try decode(type: innerType, payload: rest))
        }
    }

    static func write(_ actor: AuditActor, to writer: inout BinaryWriter) {
        switch actor {
        case .bootstrap:
            writer.write(byte: 0)
        case .apiKey(let id):
            writer.write(byte: 1)
            writer.write(string: id)
        case .localUser(let uid):
            writer.write(byte: 2)
            writer.write(varint: UInt64(uid))
        }
    }

    static func readActor(from reader: inout BinaryReader) throws(DecodingError) -> AuditActor {
        switch try reader.readByte() {
        case 0: return .bootstrap
        case 1: return .apiKey(id: try reader.readString())
        case 2:
            let uid = try reader.readVarint()
            guard uid <= UInt64(UInt32.max) else { throw DecodingError("user id \(uid) out of range") }
            return .localUser(uid: UInt32(uid))
        case let tag: throw DecodingError("unknown actor tag \(tag)")
        }
    }
}

extension StateRecord {
    /// A meter created, renamed or archived: the records an `audited` record may wrap.
    public var isMeterChange: Bool {
        switch self {
        case .meterCreated, .meterDisplayNameChanged, .meterArchived: return true
        default: return false
        }
    }
}
