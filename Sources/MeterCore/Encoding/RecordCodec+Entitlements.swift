/// Payloads of the entitlement records (types 9-14, see `RecordCodec`).
///
/// - 9 entitlement set: tenant, meter id, optional customer, limit, enforcement byte, actor, time
/// - 10 entitlement removed: tenant, meter id, optional customer, actor, time
/// - 11 grant added: tenant, meter id, customer, amount, effective from, optional expiry, actor, time
/// - 12 grant removed: tenant, grant id, actor, time
/// - 13 threshold rule added: tenant, meter id, optional customer, level tag (0 absolute,
///   1 percent of entitlement) and value, actor, time
/// - 14 threshold rule removed: tenant, rule id, actor, time
extension RecordCodec {
    public static let entitlementSetType: UInt8 = 9
    public static let entitlementRemovedType: UInt8 = 10
    public static let grantAddedType: UInt8 = 11
    public static let grantRemovedType: UInt8 = 12
    public static let thresholdRuleAddedType: UInt8 = 13
    public static let thresholdRuleRemovedType: UInt8 = 14

    static let entitlementTypes: ClosedRange<UInt8> = 9...14

    static func encodeEntitlement(_ record: StateRecord) -> (type: UInt8, payload: [UInt8]) {
        var writer = BinaryWriter()
        let type: UInt8
        switch record {
        case .entitlementSet(let definition, let actor, let at):
            write(definition, to: &writer)
            write(actor, to: &writer)
            writer.write(signed: at)
            type = entitlementSetType
        case .entitlementRemoved(let tenantId, let meterId, let customerId, let actor, let at):
            writer.write(string: tenantId)
            writer.write(string: meterId)
            writer.write(optionalString: customerId)
            write(actor, to: &writer)
            writer.write(signed: at)
            type = entitlementRemovedType
        case .grantAdded(let definition, let actor, let at):
            write(definition, to: &writer)
            write(actor, to: &writer)
            writer.write(signed: at)
            type = grantAddedType
        case .grantRemoved(let tenantId, let grantId, let actor, let at):
            writer.write(string: tenantId)
            writer.write(string: grantId)
            write(actor, to: &writer)
            writer.write(signed: at)
            type = grantRemovedType
        case .thresholdRuleAdded(let definition, let actor, let at):
            write(definition, to: &writer)
            write(actor, to: &writer)
            writer.write(signed: at)
            type = thresholdRuleAddedType
        case .thresholdRuleRemoved(let tenantId, let ruleId, let actor, let at):
            writer.write(string: tenantId)
            writer.write(string: ruleId)
            write(actor, to: &writer)
            writer.write(signed: at)
            type = thresholdRuleRemovedType
        default:
            preconditionFailure("not an entitlement record: \(record)")
        }
        return (type, writer.bytes)
    }

    static func decodeEntitlement(type: UInt8, from reader: inout BinaryReader) throws(DecodingError) -> StateRecord {
        switch type {
        case entitlementSetType:
            let definition = try readEntitlementDefinition(from: &reader)
            return .entitlementSet(definition, actor: try readActor(from: &reader), atMilliseconds: try reader.readSigned())
        case entitlementRemovedType:
            return .entitlementRemoved(tenantId: try reader.readString(), meterId: try reader.readString(),
                                       customerId: try reader.readOptionalString(), actor: try readActor(from: &reader),
                                       atMilliseconds: try reader.readSigned())
        case grantAddedType:
            let definition = try readGrantDefinition(from: &reader)
            return .grantAdded(definition, actor: try readActor(from: &reader), atMilliseconds: try reader.readSigned())
        case grantRemovedType:
            return .grantRemoved(tenantId: try reader.readString(), grantId: try reader.readString(),
                                 actor: try readActor(from: &reader), atMilliseconds: try reader.readSigned())
        case thresholdRuleAddedType:
            let definition = try readThresholdRuleDefinition(from: &reader)
            return .thresholdRuleAdded(definition, actor: try readActor(from: &reader), atMilliseconds: try reader.readSigned())
        default:
            return .thresholdRuleRemoved(tenantId: try reader.readString(), ruleId: try reader.readString(),
                                         actor: try readActor(from: &reader), atMilliseconds: try reader.readSigned())
        }
    }

    static func write(_ definition: EntitlementDefinition, to writer: inout BinaryWriter) {
        writer.write(string: definition.tenantId)
        writer.write(string: definition.meterId)
        writer.write(optionalString: definition.customerId)
        writer.write(signed128: definition.limit.units)
        writer.write(byte: definition.enforcement.rawValue)
    }

    static func readEntitlementDefinition(from reader: inout BinaryReader) throws(DecodingError) -> EntitlementDefinition {
        let tenantId = try reader.readString()
        let meterId = try reader.readString()
        let customerId = try reader.readOptionalString()
        let limit = ExactDecimal(units: try reader.readSigned128())
        let byte = try reader.readByte()
        guard let enforcement = EntitlementEnforcement(rawValue: byte) else { throw DecodingError("unknown enforcement \(byte)") }
        return EntitlementDefinition(tenantId: tenantId, meterId: meterId, customerId: customerId, limit: limit, enforcement: enforcement)
    }

    static func write(_ definition: GrantDefinition, to writer: inout BinaryWriter) {
        writer.write(string: definition.tenantId)
        writer.write(string: definition.meterId)
        writer.write(string: definition.customerId)
        writer.write(signed128: definition.amount.units)
        writer.write(signed: definition.effectiveFromMilliseconds)
        writer.write(bool: definition.expiresAtMilliseconds != nil)
        if let expires = definition.expiresAtMilliseconds { writer.write(signed: expires) }
    }

    static func readGrantDefinition(from reader: inout BinaryReader) throws(DecodingError) -> GrantDefinition {
        let tenantId = try reader.readString()
        let meterId = try reader.readString()
        let customerId = try reader.readString()
        let amount = ExactDecimal(units: try reader.readSigned128())
        let from = try reader.readSigned()
        let expires: Int64? = try reader.readBool() ? try reader.readSigned() : nil
        return GrantDefinition(tenantId: tenantId, meterId: meterId, customerId: customerId, amount: amount,
                               effectiveFromMilliseconds: from, expiresAtMilliseconds: expires)
    }

    static func write(_ definition: ThresholdRuleDefinition, to writer: inout BinaryWriter) {
        writer.write(string: definition.tenantId)
        writer.write(string: definition.meterId)
        writer.write(optionalString: definition.customerId)
        switch definition.level {
        case .absolute(let value):
            writer.write(byte: 0)
            writer.write(signed128: value.units)
        case .percentOfEntitlement(let percent):
            writer.write(byte: 1)
            writer.write(signed128: percent.units)
        }
    }

    static func readThresholdRuleDefinition(from reader: inout BinaryReader) throws(DecodingError) -> ThresholdRuleDefinition {
        let tenantId = try reader.readString()
        let meterId = try reader.readString()
        let customerId = try reader.readOptionalString()
        let tag = try reader.readByte()
        let value = ExactDecimal(units: try reader.readSigned128())
        let level: ThresholdLevel
        switch tag {
        case 0: level = .absolute(value)
        case 1: level = .percentOfEntitlement(value)
        default: throw DecodingError("unknown threshold level tag \(tag)")
        }
        return ThresholdRuleDefinition(tenantId: tenantId, meterId: meterId, customerId: customerId, level: level)
    }
}
