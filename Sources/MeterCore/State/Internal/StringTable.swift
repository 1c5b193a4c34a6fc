/// An open-addressing hash table from strings to values, with linear probing and the key,
/// its hash and the value side by side in one slot so that a lookup touches one cache line.
///
/// Used on the ingest hot path (customers, event names, filter values, event ids) where the
/// standard Dictionary's hashing dominated the cost of applying an event. Removal uses
/// backward-shift deletion, so there are no tombstones and probe lengths stay short.
struct StringTable<Value> {
    struct Slot {
        var hash: UInt64
        var key: String
        var value: Value?
    }

    private(set) var slots: [Slot]
    private(set) var count = 0
    private var mask: Int

    init(minimumCapacity: Int = 8) {
        var capacity = 8
        while capacity * 3 < minimumCapacity * 4 { capacity <<= 1 }
        slots = Array(repeating: Slot(hash: 0, key: "", value: nil), count: capacity)
        mask = capacity - 1
    }

    /// Slot index holding `key`, or the empty slot where it would go.
    @inline(__always)
    private func position(of key: String, hash: UInt64) -> (index: Int, found: Bool) {
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let stored = slots[index].hash
            if stored == 0 { return (index, false) }
            if stored == hash && slots[index].key == key { return (index, true) }
            index = (index &+ 1) & mask
        }
    }

    @inline(__always)
    func value(for key: String) -> Value? {
        let found = position(of: key, hash: FastHash.hash(key))
        return found.found ? slots[found.index].value : nil
    }

    @inline(__always)
    func contains(_ key: String) -> Bool {
        position(of: key, hash: FastHash.hash(key)).found
    }

    /// The value for the key with UTF-8 bytes `key` (no `String` is made).
    @inline(__always)
    func value(forUTF8 key: UnsafeBufferPointer<UInt8>) -> Value? {
        let hash = FastHash.hash(utf8: key)
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let stored = slots[index].hash
            if stored == 0 { return nil }
            if stored == hash && FastHash.equal(slots[index].key, key) { return slots[index].value }
            index = (index &+ 1) & mask
        }
    }

    /// Whether the key with UTF-8 bytes `key` is in the table.
    @inline(__always)
    func contains(utf8 key: UnsafeBufferPointer<UInt8>) -> Bool {
        let hash = FastHash.hash(utf8: key)
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let stored = slots[index].hash
            if stored == 0 { return false }
            if stored == hash && FastHash.equal(slots[index].key, key) { return true }
            index = (index &+ 1) & mask
        }
    }

    /// The value stored for `key`, or `make()` stored and returned when there is none.
    @inline(__always)
    mutating func value(for key: String, orInsert make: () -> Value) -> Value {
        let hash = FastHash.hash(key)
        let found = position(of: key, hash: hash)
        if found.found { return slots[found.index].value! }
        let value = make()
        insert(value, for: key, hash: hash, at: found.index)
        return value
    }

    /// Stores `value` for `key`; returns the value it replaced.
    @discardableResult
    @inline(__always)
    mutating func set(_ value: Value, for key: String) -> Value? {
        let hash = FastHash.hash(key)
        let found = position(of: key, hash: hash)
        if found.found {
            let old = slots[found.index].value
            slots[found.index].value = value
            return old
        }
        insert(value, for: key, hash: hash, at: found.index)
        return nil
    }

    /// Lets `body` read and change the value for `key` in one probe; a nil result removes it.
    @inline(__always)
    mutating func update<Result>(_ key: String, _ body: (inout Value?) -> Result) -> Result {
        let hash = FastHash.hash(key)
        let found = position(of: key, hash: hash)
        if found.found {
            let result = body(&slots[found.index].value)
            if slots[found.index].value == nil { removeSlot(at: found.index) }
            return result
        }
        var value: Value? = nil
        let result = body(&value)
        if let value { insert(value, for: key, hash: hash, at: found.index) }
        return result
    }

    /// Stores a key that is not in the table at `index`, the free slot its probe ended on,
    /// growing first (and probing again) when the table would be more than 3/4 full.
    @inline(__always)
    private mutating func insert(_ value: Value, for key: String, hash: UInt64, at index: Int) {
        var index = index
        if (count + 1) * 4 > slots.count * 3 {
            grow()
            index = position(of: key, hash: hash).index
        }
        slots[index] = Slot(hash: hash, key: key, value: value)
        count += 1
    }

    /// Removes `key`; returns its value.
    @discardableResult
    mutating func remove(_ key: String) -> Value? {
        let found = position(of: key, hash: FastHash.hash(key))
        guard found.found else { return nil }
        let old = slots[found.index].value
        removeSlot(at: found.index)
        return old
    }

    /// Backward-shift deletion: pull later members of the probe run into the hole.
    private mutating func removeSlot(at start: Int) {
        var hole = start
        var index = (start &+ 1) & mask
        while slots[index].hash != 0 {
            let home = Int(truncatingIfNeeded: slots[index].hash) & mask
            // Move the slot back if its home is not inside (hole, index] cyclically.
            let distanceToHole = (index &- hole) & mask
            let distanceToHome = (index &- home) & mask
            if distanceToHome >= distanceToHole {
                slots[hole] = slots[index]
                hole = index
            }
            index = (index &+ 1) & mask
        }
        slots[hole] = Slot(hash: 0, key: "", value: nil)
        count -= 1
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(hash: 0, key: "", value: nil), count: old.count * 2)
        mask = slots.count - 1
        for slot in old where slot.hash != 0 {
            var index = Int(truncatingIfNeeded: slot.hash) & mask
            while slots[index].hash != 0 { index = (index &+ 1) & mask }
            slots[index] = slot
        }
    }

    /// Every key and value, in no particular order.
    var entries: [(key: String, value: Value)] {
        slots.compactMap { slot in slot.hash == 0 ? nil : (slot.key, slot.value!) }
    }
}
