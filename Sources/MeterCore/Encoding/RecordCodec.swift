/// Turns `StateRecord`s into log payloads and back. The log frames and checksums them; this
/// codec only defines the payload bytes, which are stable: change them only with a new type.
///
/// Record types (the log's type byte):
/// - 1 meter created: tenant, event name, display name, filters, aggregation, reset, group-by, time
/// - 2 display name changed: tenant, meter id, display name, time
/// - 3 meter archived: tenant, meter id, time
/// - 4 events accepted: tenant, accept time, count, then each event
/// - 5 backfill progress: meter id, completed-through sequence
/// - 6 API key created: tenant, name, role byte, 32-byte SHA-256 of the secret, actor, time
/// - 7 API key revoked: tenant, key id, actor, time
/// - 8 audited meter change: actor, then the inner record's type byte and payload (types 1-3)
/// - 9-14 entitlements, grants and threshold rules (RecordCodec+Entitlements)
///
/// An actor is a tag byte: 0 bootstrap; 1 API key, then its id; 2 local user, then the uid.
///
/// Strings are varint-length-prefixed UTF-8; integers are LEB128 varints (zig-zag when
/// signed); decimals are their 10^-9 units as a zig-zag varint.
public enum RecordCodec {
    public static let meterCreatedType: UInt8 = 1
    public static let displayNameChangedType: UInt8 = 2
    public static let meterArchivedType: UInt8 = 3
    public static let eventsAcceptedType: UInt8 = 4
    public static let backfillProgressType: UInt8 = 5
    public static let apiKeyCreatedType: UInt8 = 6
    public static let apiKeyRevokedType: UInt8 = 7
    public static let auditedType: UInt8 = 8

    /// The log type byte and payload for `record`.
    public static func encode(_ record: StateRecord) -> (type: UInt8, payload: [UInt8]) {
        var writer = BinaryWriter()
        switch record {
        case .meterCreated(let definition, let at):
            write(definition, to: &writer)
            writer.write(signed: at)
            return (meterCreatedType, writer.bytes)
        case .meterDisplayNameChanged(let tenantId, let meterId, let displayName, let at):
            writer.write(string: tenantId)
            writer.write(string: meterId)
            writer.write(string: displayName)
            writer.write(signed: at)
            return (displayNameChangedType, writer.bytes)
        case .meterArchived(let tenantId, let meterId, let at):
            writer.write(string: tenantId)
            writer.write(string: meterId)
            writer.write(signed: at)
            return (meterArchivedType, writer.bytes)
        case .eventsAccepted(let tenantId, let at, let events):
            writer = BinaryWriter(capacity: 32 + events.count * 96)
            writer.write(string: tenantId)
            writer.write(signed: at)
            writer.write(varint: UInt64(events.count))
            for event in events { write(event, to: &writer) }
            return (eventsAcceptedType, writer.bytes)
        case .backfillProgress(let meterId, let through):
            writer.write(string: meterId)
            writer.write(varint: through)
            return (backfillProgressType, writer.bytes)
        case .apiKeyCreated, .apiKeyRevoked, .audited:
            return encodeAccess(record)
        case .entitlementSet, .entitlementRemoved, .grantAdded, .grantRemoved, .thresholdRuleAdded, .thresholdRuleRemoved:
            return encodeEntitlement(record)
        }
    }

    /// The record a log entry holds. Throws on an unknown type or bytes that do not decode.
    public static func decode(type: UInt8, payload: [UInt8]) throws(DecodingError) -> StateRecord {
        var reader = BinaryReader(payload)
        let record: StateRecord
        switch type {
        case meterCreatedType:
            let definition = try readDefinition(from: &reader)
            record = .meterCreated(definition, atMilliseconds: try reader.readSigned())
        case displayNameChangedType:
            record = .meterDisplayNameChanged(
                tenantId: try reader.readString(), meterId: try reader.readString(),
                displayName: try reader.readString(), atMilliseconds: try reader.readSigned())
        case meterArchivedType:
            record = .meterArchived(tenantId: try reader.readString(), meterId: try reader.readString(), atMilliseconds: try reader.readSigned())
        case eventsAcceptedType:
            let tenantId = try reader.readString()
            let at = try reader.readSigned()
            let count = try reader.readCount()
            var events: [UsageEvent] = []
            events.reserveCapacity(count)
            for _ in 0..<count { events.append(try readEvent(from: &reader)) }
            record = .eventsAccepted(tenantId: tenantId, acceptedAtMilliseconds: at, events: events)
        case backfillProgressType:
            record = .backfillProgress(meterId: try reader.readString(), completedThroughSequence: try reader.readVarint())
        case apiKeyCreatedType, apiKeyRevokedType, auditedType:
            record = try decodeAccess(type: type, from: &reader)
        case entitlementTypes:
            record = try decodeEntitlement(type: type, from: &reader)
        default:
            throw DecodingError("unknown record type \(type)")
        }
        guard reader.isAtEnd else { throw DecodingError("\(reader.remainingCount) unexpected bytes after record of type \(type)") }
        return record
    }

    /// The payload of `.eventsAccepted(tenantId:acceptedAtMilliseconds:events:)` for the events
    /// of `encoded` at `positions` (increasing), byte for byte what `encode` writes for that
    /// record, put together by copying the events' bytes. `nil` positions means all of them.
    public static func eventsAcceptedPayload(
        tenantId: String, acceptedAtMilliseconds: Int64, encoded: EncodedEvents, positions: [Int]?
    ) -> [UInt8] {
        var writer = BinaryWriter(capacity: 32 + encoded.bytes.count)
        writer.write(string: tenantId)
        writer.write(signed: acceptedAtMilliseconds)
        if let positions {
            writer.write(varint: UInt64(positions.count))
            for position in positions { writer.write(bytes: encoded.bytes[encoded.range(of: position)]) }
        } else {
            writer.write(varint: UInt64(encoded.count))
            writer.write(bytes: encoded.bytes[...])
        }
        return writer.bytes
    }

    // MARK: Events

    @inline(__always)
    public static func write(_ event: UsageEvent, to writer: inout BinaryWriter) {
        writer.write(string: event.eventId)
        writer.write(string: event.eventName)
        writer.write(string: event.customerId)
        writer.write(signed: event.timestampMilliseconds)
        writer.write(optionalString: event.source)
        writer.write(varint: UInt64(event.properties.count))
        for property in event.properties {
            writer.write(string: property.key)
            write(property.value, to: &writer)
        }
    }

    @inline(__always)
    public static func readEvent(from reader: inout BinaryReader) throws(DecodingError) -> UsageEvent {
        let eventId = try reader.readString()
        let eventName = try reader.readString()
        let customerId = try reader.readString()
        let timestamp = try reader.readSigned()
        let source = try reader.readOptionalString()
        let count = try reader.readCount()
        var properties: [EventProperty] = []
        properties.reserveCapacity(count)
        for _ in 0..<count {
            let key = try reader.readString()
            properties.append(EventProperty(key: key, value: try readValue(from: &reader)))
        }
        return UsageEvent(eventId: eventId, eventName: eventName, customerId: customerId,
                          timestampMilliseconds: timestamp, properties: properties, source: source)
    }

    static func write(_ value: PropertyValue, to writer: inout BinaryWriter) {
        switch value {
        case .string(let text):
            writer.write(byte: 0)
            writer.write(string: text)
        case .integer(let number):
            writer.write(byte: 1)
            writer.write(signed: number)
        case .decimal(let number):
            writer.write(byte: 2)
            writer.write(signed128: number.units)
        case .boolean(let flag):
            writer.write(byte: flag ? 4 : 3)
        }
    }

    static func readValue(from reader: inout BinaryReader) throws(DecodingError) -> PropertyValue {
        switch try reader.readByte() {
        case 0: return .string(try reader.readString())
        case 1: return .integer(try reader.readSigned())
        case 2: return .decimal(ExactDecimal(units: try reader.readSigned128()))
        case 3: return .boolean(false)
        case 4: return .boolean(true)
        case let tag: throw DecodingError("unknown property value tag \(tag)")
        }
    }

    // MARK: Meter definitions

    static func write(_ definition: MeterDefinition, to writer: inout BinaryWriter) {
        writer.write(string: definition.tenantId)
        writer.write(string: definition.eventName)
        writer.write(string: definition.displayName)
        writer.write(varint: UInt64(definition.filters.count))
        for filter in definition.filters {
            writer.write(string: filter.key)
            writer.write(varint: UInt64(filter.values.count))
            for value in filter.values { writer.write(string: value) }
        }
        writer.write(string: definition.aggregation.kind.rawValue)
        writer.write(optionalString: definition.aggregation.field)
        writer.write(bool: definition.aggregation.multiplier != nil)
        if let multiplier = definition.aggregation.multiplier { writer.write(signed128: multiplier.units) }
        switch definition.reset {
        case .cumulative:
            writer.write(byte: 0)
        case .periodic(let period, let anchor):
            writer.write(byte: 1)
            writer.write(string: period.rawValue)
            writer.write(signed: anchor)
        }
        writer.write(varint: UInt64(definition.groupBy.count))
        for key in definition.groupBy { writer.write(string: key) }
    }

    static func readDefinition(from reader: inout BinaryReader) throws(DecodingError) -> MeterDefinition {
        let tenantId = try reader.readString()
        let eventName = try reader.readString()
        let displayName = try reader.readString()
        var filters: [MeterFilter] = []
        for _ in 0..<(try reader.readCount()) {
            let key = try reader.readString()
            var values: [String] = []
            for _ in 0..<(try reader.readCount()) { values.append(try reader.readString()) }
            filters.append(MeterFilter(key: key, values: values))
        }
        let kindName = try reader.readString()
        guard let kind = AggregationKind(rawValue: kindName) else { throw DecodingError("unknown aggregation \(kindName)") }
        let field = try reader.readOptionalString()
        let multiplier = try reader.readBool() ? ExactDecimal(units: try reader.readSigned128()) : nil
        let reset: ResetPolicy
        switch try reader.readByte() {
        case 0:
            reset = .cumulative
        case 1:
            let periodName = try reader.readString()
            guard let period = BillingPeriod(rawValue: periodName) else { throw DecodingError("unknown billing period \(periodName)") }
            reset = .periodic(period: period, anchorMilliseconds: try reader.readSigned())
        case let tag:
            throw DecodingError("unknown reset tag \(tag)")
        }
        var groupBy: [String] = []
        for _ in 0..<(try reader.readCount()) { groupBy.append(try reader.readString()) }
        return MeterDefinition(tenantId: tenantId, eventName: eventName, displayName: displayName, filters: filters,
                               aggregation: Aggregation(kind: kind, field: field, multiplier: multiplier),
                               reset: reset, groupBy: groupBy)
    }
}

/// Events encoded one after another as an `eventsAccepted` record holds them, with the end of
/// each. The engine encodes a batch on the caller's thread before queueing it, so the single
/// writer only copies bytes into the record (`RecordCodec.eventsAcceptedPayload`).
public struct EncodedEvents: Sendable {
    public let bytes: [UInt8]
    /// `ends[i]` is where event `i` ends in `bytes` (and event `i + 1` starts).
    public let ends: [Int]

    public init(_ events: [UsageEvent]) {
        var writer = BinaryWriter(capacity: events.count * 96)
        var ends: [Int] = []
        ends.reserveCapacity(events.count)
        for event in events {
            RecordCodec.write(event, to: &writer)
            ends.append(writer.bytes.count)
        }
        self.bytes = writer.bytes
        self.ends = ends
    }

    public var count: Int { ends.count }

    /// The bytes of event `index`.
    @inline(__always)
    public func range(of index: Int) -> Range<Int> {
        (index == 0 ? 0 : ends[index - 1])..<ends[index]
    }
}
