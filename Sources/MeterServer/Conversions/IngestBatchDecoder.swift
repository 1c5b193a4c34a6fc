import MeterCore
import MeterProto
import MeterWire
import MeterWireServer
import NIOCore

/// Decodes an `IngestBatchRequest` (meterd.v1, proto/meterd/v1/meterd.proto) straight from the
/// frame's bytes into MeterCore events, without building the swift-protobuf messages first.
///
/// It reads the protobuf wire format by hand: the events (field 1), and in each event its id (1),
/// name (2), customer (3), timestamp (4), properties (5: key 1, value 2 with the oneof string 1 /
/// sint64 2 / decimal string 3 / bool 4) and source (6). Unknown fields (and known ones with another
/// wire type, as swift-protobuf does) are skipped by wire type,
/// and a repeated singular field keeps its last value, as protobuf requires, so it accepts
/// exactly what swift-protobuf accepts (a randomized test compares the two). Decimal strings
/// are parsed from the bytes with `ExactDecimal(parsingUTF8:)`. A malformed payload, or text that
/// is not UTF-8, fails the whole request, as swift-protobuf's decoder does; a decimal that does
/// not parse rejects only its event.
public enum IngestBatchDecoder {
    /// The payload is not a well-formed IngestBatchRequest.
    public struct Malformed: Error {}

    /// The slow path it replaces, kept as the reference: swift-protobuf's message, then
    /// `ProtoConversions.event` for each event. Tests require both to agree; the benchmark
    /// (`meter-bench decode`) compares their speed.
    public static func decodeWithSwiftProtobuf(_ buffer: ByteBuffer) throws -> [Result<UsageEvent, MeterError>] {
        try ProtobufPayload.decode(Meterd_V1_IngestBatchRequest.self, from: buffer).events.map(ProtoConversions.event)
    }

    /// The events in request order: each one decoded, or the reason it cannot be an event.
    public static func decode(_ buffer: ByteBuffer) throws -> [Result<UsageEvent, MeterError>] {
        try decodeRequest(buffer).events
    }

    /// The events, and whether the request asked for entitlement effects (field 2).
    public static func decodeRequest(_ buffer: ByteBuffer) throws -> (events: [Result<UsageEvent, MeterError>], includeEntitlementEffects: Bool) {
        try buffer.withUnsafeReadableBytes { bytes in
            var reader = WireReader(bytes: bytes)
            var events: [Result<UsageEvent, MeterError>] = []
            var includeEffects = false
            while !reader.isAtEnd {
                let (field, wireType) = try reader.readTag()
                if field == 1 && matches(wireType, 2) {
                    var eventReader = try reader.readNested()
                    events.append(try decodeEvent(&eventReader))
                } else if field == 2 && matches(wireType, 0) {
                    includeEffects = try reader.readVarint() != 0
                } else {
                    try reader.skip(field: field, wireType: wireType)
                }
            }
            return (events, includeEffects)
        }
    }

    /// Whether a field arrived with its declared wire type. Like swift-protobuf, a known field
    /// with another wire type is treated as an unknown field and skipped; `nil` means unknown.
    @inline(__always)
    private static func matches(_ wireType: UInt64, _ declared: UInt64?) -> Bool {
        declared == wireType
    }

    private static func decodeEvent(_ reader: inout WireReader) throws -> Result<UsageEvent, MeterError> {
        // Fields in locals, the event built once at the end (cheaper than updating a struct).
        var eventId = "", eventName = "", customerId = ""
        var timestamp: Int64 = 0
        var properties: [EventProperty] = []
        var source: String?
        var problem: MeterError?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.readTag()
            guard matches(wireType, field == 4 ? 0 : (field <= 6 ? 2 : nil)) else {
                try reader.skip(field: field, wireType: wireType)
                continue
            }
            switch field {
            case 1: eventId = try reader.readString()
            case 2: eventName = try reader.readString()
            case 3: customerId = try reader.readString()
            case 4: timestamp = Int64(bitPattern: try reader.readVarint())
            case 5:
                var propertyReader = try reader.readNested()
                switch try decodeProperty(&propertyReader) {
                case .success(let property):
                    // Room for a few at once: growing 0 -> 1 -> 2 -> 4 reallocated twice per event.
                    if properties.isEmpty { properties.reserveCapacity(4) }
                    properties.append(property)
                case .failure(let error): problem = problem ?? error
                }
            case 6:
                let text = try reader.readString()
                source = text.isEmpty ? nil : text
            default:
                try reader.skip(field: field, wireType: wireType)
            }
        }
        if let problem { return .failure(problem) }
        return .success(UsageEvent(eventId: eventId, eventName: eventName, customerId: customerId,
                                   timestampMilliseconds: timestamp, properties: properties, source: source))
    }

    private static func decodeProperty(_ reader: inout WireReader) throws -> Result<EventProperty, MeterError> {
        var key = ""
        var value: Result<PropertyValue, MeterError>?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.readTag()
            guard matches(wireType, field <= 2 ? 2 : nil) else {
                try reader.skip(field: field, wireType: wireType)
                continue
            }
            switch field {
            case 1:
                key = try reader.readString()
            case 2:
                var valueReader = try reader.readNested()
                // A repeated message field merges in protobuf: a later oneof member replaces an earlier one.
                if let decoded = try decodeValue(&valueReader) { value = decoded }
            default:
                try reader.skip(field: field, wireType: wireType)
            }
        }
        guard let value else {
            return .failure(MeterError(.invalidProperty, "property \"\(key.prefix(64))\" has no value"))
        }
        switch value {
        case .success(let propertyValue): return .success(EventProperty(key: key, value: propertyValue))
        case .failure(let error): return .failure(MeterError(error.code, "property \"\(key.prefix(64))\": \(error.message)"))
        }
    }

    private static func decodeValue(_ reader: inout WireReader) throws -> Result<PropertyValue, MeterError>? {
        var value: Result<PropertyValue, MeterError>?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.readTag()
            guard matches(wireType, field > 4 ? nil : (field % 2 == 0 ? 0 : 2)) else {
                try reader.skip(field: field, wireType: wireType)
                continue
            }
            switch field {
            case 1: value = .success(.string(try reader.readString()))
            case 2:
                let raw = try reader.readVarint()
                value = .success(.integer(Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))))
            case 3:
                let text = try reader.readBytes()
                guard WireReader.isASCII(UnsafeBufferPointer(rebasing: text)) || String(validating: text, as: UTF8.self) != nil else {
                    throw Malformed()
                }
                do {
                    value = .success(.decimal(try ExactDecimal(parsingUTF8: UnsafeBufferPointer(rebasing: text))))
                } catch {
                    let shown = String(decoding: text.prefix(40), as: UTF8.self)
                    value = .failure(MeterError(.invalidProperty, "\"\(shown)\" is not a decimal: \(error)"))
                }
            case 4: value = .success(.boolean(try reader.readVarint() != 0))
            default: try reader.skip(field: field, wireType: wireType)
            }
        }
        return value
    }
}

/// A cursor over protobuf wire-format bytes; every read checks its bounds.
struct WireReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0
    var end: Int

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        end = bytes.count
    }

    var isAtEnd: Bool { position >= end }

    @inline(__always)
    mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end, shift < 64 else { throw IngestBatchDecoder.Malformed() }
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    @inline(__always)
    mutating func readTag() throws -> (field: UInt64, wireType: UInt64) {
        let tag = try readVarint()
        let field = tag >> 3
        guard field > 0, field <= 536_870_911 else { throw IngestBatchDecoder.Malformed() }
        return (field, tag & 7)
    }

    @inline(__always)
    mutating func readBytes() throws -> Slice<UnsafeBufferPointer<UInt8>> {
        let length = try readVarint()
        guard length <= UInt64(end - position) else { throw IngestBatchDecoder.Malformed() }
        let start = position
        position += Int(length)
        return bytes.assumingMemoryBound(to: UInt8.self)[start..<position]
    }

    /// The next length-delimited field as a String; text that is not UTF-8 is malformed.
    @inline(__always)
    mutating func readString() throws -> String {
        let slice = try readBytes()
        let bytes = UnsafeBufferPointer(rebasing: slice)
        // ASCII (ids, names, keys: nearly everything) is UTF-8 as it stands, and a cheap check;
        // `String(validating:)` is generic and cost about 1000 instructions per string.
        if Self.isASCII(bytes) { return String(decoding: bytes, as: UTF8.self) }
        guard let text = String(validating: slice, as: UTF8.self) else { throw IngestBatchDecoder.Malformed() }
        return text
    }

    /// Whether every byte is below 0x80, eight bytes per step.
    @inline(__always)
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            high |= raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            high |= UInt64(base[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    /// A reader over the next length-delimited field, which this reader skips.
    mutating func readNested() throws -> WireReader {
        let length = try readVarint()
        guard length <= UInt64(end - position) else { throw IngestBatchDecoder.Malformed() }
        var nested = self
        nested.end = position + Int(length)
        position += Int(length)
        return nested
    }

    /// Skips the value of an unknown (or mismatched) field `field` of wire type `wireType`.
    mutating func skip(field: UInt64, wireType: UInt64) throws {
        switch wireType {
        case 0: _ = try readVarint()
        case 1: try advance(8)
        case 2: _ = try readBytes()
        case 5: try advance(4)
        case 3: try skipGroup(field: field)
        default: throw IngestBatchDecoder.Malformed()
        }
    }

    /// Skips a (deprecated, proto2) group up to its end tag, as protobuf decoders do for unknown
    /// fields. The end tag must name the group's own field: another field's end tag is
    /// malformed, as swift-protobuf says.
    private mutating func skipGroup(field: UInt64, depth: Int = 0) throws {
        guard depth < 64 else { throw IngestBatchDecoder.Malformed() }
        while true {
            let (innerField, wireType) = try readTag()
            if wireType == 4 {
                guard innerField == field else { throw IngestBatchDecoder.Malformed() }
                return
            }
            if wireType == 3 { try skipGroup(field: innerField, depth: depth + 1) } else { try skip(field: innerField, wireType: wireType) }
        }
    }

    private mutating func advance(_ count: Int) throws {
        guard count <= end - position else { throw IngestBatchDecoder.Malformed() }
        position += count
    }
}
