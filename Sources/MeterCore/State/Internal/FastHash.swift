#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fast seeded 64-bit hash over a string's UTF-8 bytes, 8 bytes per step.
///
/// The state machine's hot path hashes event ids, customer ids and names several times per
/// event; the standard library's SipHash costs about twice as much here. The seed is random
/// per process so crafted ids cannot force collisions; tables that use it never expose their
/// layout (snapshots are written in sorted order), so determinism is unaffected.
enum FastHash {
    static let seed: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next() | 1
    }()

    @inline(__always)
    static func hash(_ text: String) -> UInt64 {
        var text = text
        // Non-zero, so zero can mark an empty slot.
        return text.withUTF8 { hash($0) } | 1
    }

    /// `hash(_: String)` of the string with these UTF-8 bytes.
    @inline(__always)
    static func hash(utf8 bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        hash(bytes) | 1
    }

    /// Whether `text == String(decoding: bytes, as: UTF8.self)`, the comparison the tables make
    /// for `String` keys (Unicode canonical equivalence), without making the `String` when the
    /// bytes are the same (then the strings are equal). Tables call it only after the hash
    /// matched, so the fallback (different bytes that may still be canonically equal) is rare.
    @inline(__always)
    static func equal(_ text: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var copy = text
        if copy.withUTF8({ equal($0, bytes) }) { return true }
        return text == String(decoding: bytes, as: UTF8.self)
    }

    @inline(__always)
    static func equal(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = first.count
        guard count == second.count else { return false }
        guard count > 0 else { return true }
        // Ids, names and keys are mostly short: compare up to 16 bytes inline (two possibly
        // overlapping words from each end) rather than call memcmp.
        if count <= 16 {
            let a = UnsafeRawPointer(first.baseAddress!), b = UnsafeRawPointer(second.baseAddress!)
            if count >= 8 {
                return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
                    && a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            }
            if count >= 4 {
                return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                    && a.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
            }
            var index = 0
            while index < count {
                if first[index] != second[index] { return false }
                index += 1
            }
            return true
        }
        return memcmp(first.baseAddress!, second.baseAddress!, count) == 0
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var state = seed ^ (UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15)
        var index = 0
        let count = bytes.count
        guard let base = bytes.baseAddress else { return mix(state) }
        let raw = UnsafeRawPointer(base)
        while index + 8 <= count {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            state = mix(state ^ word)
            index += 8
        }
        if index < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while index < count {
                tail |= UInt64(base[index]) << shift
                shift += 8
                index += 1
            }
            state = mix(state ^ tail)
        }
        return mix(state)
    }

    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        let product = value.multipliedFullWidth(by: 0xA076_1D64_78BD_642F)
        return product.high ^ product.low
    }
}
