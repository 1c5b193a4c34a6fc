/// The entitlement part of a snapshot (format version 4, after the access part): entitlements
/// in key order, grants and threshold rules in creation order with the next numbers, the raised
/// crossings in sorted order, then every notification in number order.
extension MeterStateMachine {
    func writeEntitlements(to writer: inout BinaryWriter) {
        let state = entitlementState
        let keys = state.entitlements.keys.sorted()
        writer.write(varint: UInt64(keys.count))
        for key in keys {
            let entitlement = state.entitlements[key]!
            RecordCodec.write(entitlement.definition, to: &writer)
            writer.write(signed: entitlement.updatedAtMilliseconds)
            writer.write(varint: entitlement.sequence)
        }
        writer.write(varint: state.nextGrantNumber)
        writer.write(varint: UInt64(state.grantOrder.count))
        for id in state.grantOrder {
            let grant = state.grantsById[id]!
            writer.write(string: grant.id)
            RecordCodec.write(grant.definition, to: &writer)
            writer.write(signed: grant.createdAtMilliseconds)
        }
        writer.write(varint: state.nextRuleNumber)
        writer.write(varint: UInt64(state.ruleOrder.count))
        for id in state.ruleOrder {
            let rule = state.rulesById[id]!
            writer.write(string: rule.id)
            RecordCodec.write(rule.definition, to: &writer)
            writer.write(signed: rule.createdAtMilliseconds)
        }
        let fired = state.fired.sorted()
        writer.write(varint: UInt64(fired.count))
        for crossing in fired {
            writer.write(string: crossing.ruleId)
            writer.write(string: crossing.customerId)
            writer.write(signed: crossing.periodStartMilliseconds)
        }
        writer.write(varint: UInt64(state.notifications.count))
        for notification in state.notifications {
            writer.write(varint: notification.number)
            writer.write(string: notification.tenantId)
            writer.write(string: notification.ruleId)
            writer.write(string: notification.meterId)
            writer.write(string: notification.customerId)
            writer.write(signed128: notification.threshold.units)
            writer.write(signed128: notification.usage.units)
            writer.write(bool: notification.periodStartMilliseconds != nil)
            if let start = notification.periodStartMilliseconds, let end = notification.periodEndMilliseconds {
                writer.write(signed: start)
                writer.write(signed: end)
            }
            writer.write(varint: notification.sequence)
            writer.write(signed: notification.atMilliseconds)
        }
    }

    func readEntitlements(from reader: inout BinaryReader) throws(DecodingError) {
        var state = EntitlementState()
        for _ in 0..<(try reader.readCount()) {
            let definition = try RecordCodec.readEntitlementDefinition(from: &reader)
            let entitlement = Entitlement(definition: definition, updatedAtMilliseconds: try reader.readSigned(), sequence: try reader.readVarint())
            state.entitlements[EntitlementKey(tenantId: definition.tenantId, meterId: definition.meterId, customerId: definition.customerId)] = entitlement
        }
        state.nextGrantNumber = try reader.readVarint()
        for _ in 0..<(try reader.readCount()) {
            let id = try reader.readString()
            let definition = try RecordCodec.readGrantDefinition(from: &reader)
            state.addGrant(Grant(id: id, definition: definition, createdAtMilliseconds: try reader.readSigned()))
        }
        state.nextRuleNumber = try reader.readVarint()
        for _ in 0..<(try reader.readCount()) {
            let id = try reader.readString()
            let definition = try RecordCodec.readThresholdRuleDefinition(from: &reader)
            state.rulesById[id] = ThresholdRule(id: id, definition: definition, createdAtMilliseconds: try reader.readSigned())
            state.ruleOrder.append(id)
        }
        state.rebuildRuleIndex()
        for _ in 0..<(try reader.readCount()) {
            state.fired.insert(FiredThreshold(ruleId: try reader.readString(), customerId: try reader.readString(),
                                              periodStartMilliseconds: try reader.readSigned()))
        }
        for index in 0..<(try reader.readCount()) {
            let number = try reader.readVarint()
            guard number == UInt64(index + 1) else { throw DecodingError("snapshot notification \(index + 1) is numbered \(number)") }
            let tenantId = try reader.readString()
            let ruleId = try reader.readString()
            let meterId = try reader.readString()
            let customerId = try reader.readString()
            let threshold = ExactDecimal(units: try reader.readSigned128())
            let usage = ExactDecimal(units: try reader.readSigned128())
            var period: (Int64, Int64)?
            if try reader.readBool() { period = (try reader.readSigned(), try reader.readSigned()) }
            state.notifications.append(ThresholdNotification(
                number: number, tenantId: tenantId, ruleId: ruleId, meterId: meterId, customerId: customerId,
                threshold: threshold, usage: usage, periodStartMilliseconds: period?.0, periodEndMilliseconds: period?.1,
                sequence: try reader.readVarint(), atMilliseconds: try reader.readSigned()))
        }
        entitlementState = state
    }
}
