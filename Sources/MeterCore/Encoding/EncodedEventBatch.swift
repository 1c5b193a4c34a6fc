/// Where each event and property of an `eventsAccepted` payload sits in the payload's bytes:
/// the first pass of applying a record straight from its bytes (decode-into-apply).
///
/// `parse` accepts exactly the payloads `RecordCodec.decode` accepts for that type (same reader,
/// same checks, in the same order) and throws the same way, so a bad payload is refused before
/// the state machine changes. No `String`, `UsageEvent` or per-event array is made; the spans
/// live in two arrays that are reused from one record to the next.
struct EncodedEventBatch {
    /// One event: byte ranges of its id, name and customer id, its timestamp, and its
    /// properties as a range of `properties`.
    struct Event {
        var idStart: Int
        var idCount: Int
        var nameStart: Int
        var nameCount: Int
        var customerStart: Int
        var customerCount: Int
        var timestampMilliseconds: Int64
        var firstProperty: Int
        var propertyCount: Int
    }

    /// One property: its key's bytes and its value (the codec's tag: 0 string, 1 integer,
    /// 2 decimal, 3 false, 4 true; a string's bytes, or the number).
    struct Property {
        var keyStart: Int
        var keyCount: Int
        var tag: UInt8
        var textStart: Int
        var textCount: Int
        /// The integer (tag 1) or the decimal's 10^-9 units (tag 2).
        var number: Int128
    }

    var tenantId = ""
    var acceptedAtMilliseconds: Int64 = 0
    var events: [Event] = []
    var properties: [Property] = []
    /// False when a string the state machine reads is not valid UTF-8, or a property key is
    /// not ASCII: `String(decoding:)` would repair such bytes and `==` compares keys by
    /// canonical equivalence, so the caller applies the decoded record instead, exactly as before.
    var bytesMatchStrings = true

    /// Reads `payload` (an `eventsAccepted` record's) into the spans. Throws what
    /// `RecordCodec.decode` would throw for it.
    mutating func parse(_ payload: [UInt8]) throws(DecodingError) {
        events.removeAll(keepingCapacity: true)
        properties.removeAll(keepingCapacity: true)
        bytesMatchStrings = true
        var header = BinaryReader(payload)
        tenantId = try header.readString()
        acceptedAtMilliseconds = try header.readSigned()
        let count = try header.readCount()
        events.reserveCapacity(count)
        var valid = true
        let end: Int = try payload.withUnsafeBufferPointer { (bytes) throws(DecodingError) -> Int in
            var reader = UnsafeByteReader(bytes, position: header.position)
            for _ in 0..<count {
                let id = try reader.readStringRange()
                let name = try reader.readStringRange()
                let customer = try reader.readStringRange()
                let timestamp = try reader.readSigned()
                if try reader.readBool() { _ = try reader.readStringRange() }   // source: not used by apply
                let propertyCount = try reader.readCount()
                valid = valid && Self.isValidUTF8(bytes, id) && Self.isValidUTF8(bytes, name) && Self.isValidUTF8(bytes, customer)
                let first = properties.count
                for _ in 0..<propertyCount {
                    let key = try reader.readStringRange()
                    valid = valid && Self.isASCII(bytes, key)
                    var property = Property(keyStart: key.lowerBound, keyCount: key.count, tag: 0, textStart: 0, textCount: 0, number: 0)
                    switch try reader.readByte() {
                    case 0:
                        let text = try reader.readStringRange()
                        valid = valid && Self.isValidUTF8(bytes, text)
                        property.textStart = text.lowerBound
                        property.textCount = text.count
                    case 1:
                        property.tag = 1
                        property.number = Int128(try reader.readSigned())
                    case 2:
                        property.tag = 2
                        property.number = try reader.readSigned128()
                    case 3:
                        property.tag = 3
                    case 4:
                        property.tag = 4
                    case let tag:
                        throw DecodingError("unknown property value tag \(tag)")
                    }
                    properties.append(property)
                }
                events.append(Event(idStart: id.lowerBound, idCount: id.count, nameStart: name.lowerBound, nameCount: name.count,
                                    customerStart: customer.lowerBound, customerCount: customer.count, timestampMilliseconds: timestamp,
                                    firstProperty: first, propertyCount: propertyCount))
            }
            return reader.position
        }
        guard end >= payload.count else {
            throw DecodingError("\(payload.count - end) unexpected bytes after record of type \(RecordCodec.eventsAcceptedType)")
        }
        bytesMatchStrings = valid
    }

    /// Whether `range` of `bytes` is ASCII only, eight bytes per step.
    @inline(__always)
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard let base = bytes.baseAddress else { return range.isEmpty }
        let raw = UnsafeRawPointer(base)
        var index = range.lowerBound
        var high: UInt64 = 0
        while index + 8 <= range.upperBound {
            high |= raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < range.upperBound {
            high |= UInt64(base[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }

    /// Whether `range` of `bytes` is valid UTF-8 (ASCII is checked fast; anything else by the
    /// standard library's validator).
    @inline(__always)
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        if isASCII(bytes, range) { return true }
        return String(validating: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) != nil
    }
}

/// One event of an `EncodedEventBatch`, read in place for `MeterState.count`.
struct EncodedEventView: MeterEvent {
    let bytes: UnsafeBufferPointer<UInt8>
    let properties: UnsafeBufferPointer<EncodedEventBatch.Property>
    let timestampMilliseconds: Int64

    @inline(__always)
    func property(_ key: PropertyKey) -> EncodedEventBatch.Property? {
        for property in properties where property.keyCount == key.utf8.count {
            if key.utf8.withUnsafeBufferPointer({ keyBytes in
                FastHash.equal(keyBytes, UnsafeBufferPointer(rebasing: bytes[property.keyStart..<(property.keyStart + property.keyCount)]))
            }) {
                return property
            }
        }
        return nil
    }

    @inline(__always)
    func text(_ property: EncodedEventBatch.Property) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[property.textStart..<(property.textStart + property.textCount)])
    }

    /// `PropertyValue.canonicalText` of the property, made from the bytes.
    @inline(__always)
    func canonicalText(_ property: EncodedEventBatch.Property) -> String {
        switch property.tag {
        case 0: return String(decoding: text(property), as: UTF8.self)
        case 1: return String(Int64(truncatingIfNeeded: property.number))
        case 2: return ExactDecimal(units: property.number).description
        case 3: return "false"
        default: return "true"
        }
    }

    @inline(__always)
    func passesFilter(_ key: PropertyKey, values: StringTable<Bool>) -> Bool {
        guard let property = property(key) else { return false }
        if property.tag == 0 { return values.contains(utf8: text(property)) }
        return values.contains(canonicalText(property))
    }

    @inline(__always)
    func numericUnits(_ key: PropertyKey) -> Int128? {
        guard let property = property(key) else { return nil }
        switch property.tag {
        case 1: return ExactDecimal(Int64(truncatingIfNeeded: property.number)).units
        case 2: return property.number
        case 0: return (try? ExactDecimal(parsing: String(decoding: text(property), as: UTF8.self)))?.units
        default: return nil
        }
    }

    @inline(__always)
    func canonicalText(_ key: PropertyKey) -> String? {
        property(key).map { canonicalText($0) }
    }
}
