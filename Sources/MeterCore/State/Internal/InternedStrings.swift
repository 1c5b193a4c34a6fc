/// Strings numbered 0, 1, 2... in first-seen order, with an open-addressing index over them.
///
/// Each string is stored once, in `strings`; the index holds 8 bytes per slot (32 bits of the
/// string's hash and its number plus one, 0 marking an empty slot) and stays at most 3/4 full,
/// so a string costs its 16-byte `String` plus about 11-21 bytes of index (instead of the
/// 32-byte slot of `StringTable`, which repeats the string and a 64-bit hash). Growing the index
/// reuses the stored 32 hash bits: no string is hashed again. Numbers are never reused or
/// removed. Used for a tenant's customer ids and a COUNT_UNIQUE meter's distinct values.
struct InternedStrings {
    /// The strings by number.
    private(set) var strings: [String] = []
    private var slots: [UInt64]
    private var mask: Int

    init(minimumCapacity: Int = 8) {
        var capacity = 8
        while capacity * 3 < minimumCapacity * 4 { capacity <<= 1 }
        slots = Array(repeating: 0, count: capacity)
        mask = capacity - 1
    }

    var count: Int { strings.count }

    /// The slot holding `key`, or the empty slot where it would go.
    @inline(__always)
    private func position(of key: String, tag: UInt32) -> (index: Int, found: Bool) {
        var index = Int(tag) & mask
        while true {
            let slot = slots[index]
            let number = UInt32(truncatingIfNeeded: slot)
            if number == 0 { return (index, false) }
            if UInt32(truncatingIfNeeded: slot >> 32) == tag && strings[Int(number &- 1)] == key { return (index, true) }
            index = (index &+ 1) & mask
        }
    }

    /// The high half of the hash: its lowest bit is always set (`FastHash` keeps 0 for empty
    /// slots), which would leave every even slot without a home.
    @inline(__always)
    private static func tag(_ key: String) -> UInt32 { UInt32(truncatingIfNeeded: FastHash.hash(key) >> 32) }

    /// The number of `key`, if it was interned.
    @inline(__always)
    func value(for key: String) -> UInt32? {
        let found = position(of: key, tag: Self.tag(key))
        return found.found ? UInt32(truncatingIfNeeded: slots[found.index]) &- 1 : nil
    }

    /// The number of `key`, interning it (as the next number) when it is new.
    @inline(__always)
    mutating func intern(_ key: String) -> UInt32 {
        let tag = Self.tag(key)
        var found = position(of: key, tag: tag)
        if found.found { return UInt32(truncatingIfNeeded: slots[found.index]) &- 1 }
        precondition(strings.count < Int(UInt32.max) - 1, "more than 2^32 - 2 interned strings")
        if (strings.count + 1) * 4 > slots.count * 3 {
            grow()
            found = position(of: key, tag: tag)
        }
        let number = UInt32(strings.count)
        strings.append(key)
        slots[found.index] = UInt64(tag) << 32 | UInt64(number &+ 1)
        return number
    }

    /// `intern` of the string with UTF-8 bytes `key` (valid UTF-8); the `String` is made only
    /// when the key is new.
    @inline(__always)
    mutating func intern(utf8 key: UnsafeBufferPointer<UInt8>) -> UInt32 {
        let tag = UInt32(truncatingIfNeeded: FastHash.hash(utf8: key) >> 32)
        var index = Int(tag) & mask
        while true {
            let slot = slots[index]
            let number = UInt32(truncatingIfNeeded: slot)
            if number == 0 { break }
            if UInt32(truncatingIfNeeded: slot >> 32) == tag && FastHash.equal(strings[Int(number &- 1)], key) { return number &- 1 }
            index = (index &+ 1) & mask
        }
        return intern(String(decoding: key, as: UTF8.self))
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        for slot in old where UInt32(truncatingIfNeeded: slot) != 0 {
            var index = Int(UInt32(truncatingIfNeeded: slot >> 32)) & mask
            while slots[index] != 0 { index = (index &+ 1) & mask }
            slots[index] = slot
        }
    }

    /// Bytes held by the index and the array of strings (not counting string storage on the heap).
    var byteCount: Int { slots.capacity * 8 + strings.capacity * MemoryLayout<String>.stride }
}
