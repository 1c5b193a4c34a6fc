/// Turns (tenant, event id) into the 128-bit keyed fingerprint the exactly-once index stores.
///
/// The message hashed is the tenant id's UTF-8 length (two bytes, little-endian), the tenant id,
/// then the event id, so that no two (tenant, id) pairs give the same message. `bits` below 128
/// keeps only that many low bits: a test-only weakening (`MeterCoreConfiguration.dedupFingerprintBits`)
/// that makes collisions common so tests can see how the index treats them.
struct EventFingerprinter {
    let key: DedupKey
    let mask: UInt128

    init(key: DedupKey, bits: Int) {
        self.key = key
        mask = bits >= 128 ? ~0 : (UInt128(1) << UInt128(Swift.max(bits, 1))) &- 1
    }

    /// The hasher after the tenant part of the message: computed once per batch, copied per event.
    @inline(__always)
    func prefix(tenantId: String) -> SipHasher128 {
        var hasher = SipHasher128(key: key)
        var tenant = tenantId
        tenant.withUTF8 { bytes in
            let length = Swift.min(bytes.count, 0xFFFF)
            hasher.append(UInt8(truncatingIfNeeded: length))
            hasher.append(UInt8(truncatingIfNeeded: length >> 8))
            hasher.append(UnsafeRawBufferPointer(bytes))
        }
        return hasher
    }

    /// The fingerprint of `eventId` under the tenant `prefix` was made for.
    @inline(__always)
    func fingerprint(prefix: SipHasher128, eventId: String) -> UInt128 {
        var hasher = prefix
        var event = eventId
        event.withUTF8 { bytes in hasher.append(UnsafeRawBufferPointer(bytes)) }
        return hasher.finalize() & mask
    }

    /// `fingerprint(prefix:eventId:)` of the event id with UTF-8 bytes `eventIdUTF8`.
    @inline(__always)
    func fingerprint(prefix: SipHasher128, eventIdUTF8: UnsafeRawBufferPointer) -> UInt128 {
        var hasher = prefix
        hasher.append(eventIdUTF8)
        return hasher.finalize() & mask
    }

    @inline(__always)
    func fingerprint(tenantId: String, eventId: String) -> UInt128 {
        fingerprint(prefix: prefix(tenantId: tenantId), eventId: eventId)
    }
}
