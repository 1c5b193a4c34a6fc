/// The exactly-once index: the fingerprints of the event ids accepted in the dedup window, each
/// with its accept time, in fixed-size entries, expiring by time bucket.
///
/// Layout (about 18 bytes of entry plus 8 bytes of hash slot per remembered id):
///
/// * **Entries** in acceptance order, in chunks of 65,536: a 128-bit fingerprint (`UInt128`) and
///   the accept time's offset in its bucket (`UInt16`, milliseconds). Accept times never go
///   backwards (the state machine remembers ids at its high-water time), so the entries of one
///   time bucket are one contiguous run, and position order is time order.
/// * **Buckets** of 65,536 ms (about 65 s): the bucket number (time >> 16) and the position of
///   its first entry. Expiring is dropping whole buckets from the front: the head position jumps
///   to the next bucket's first entry and whole chunks behind it are freed. No entry is visited.
/// * **Slots**: an open-addressing table (linear probing) of `UInt64`, each the low 32 bits of
///   an entry's position and 32 bits of its fingerprint (which also pick its home slot), 0 for
///   empty. A slot whose position is behind the head belongs to an expired entry: it is skipped
///   by lookups, reused by inserts, and removed by a sweep that checks two slots per insert (so
///   a full pass over the table takes `capacity / 2` inserts and no pause).
///
/// "Remembered since T" is exact to the millisecond: the first position accepted at or after T
/// is found by a binary search over the buckets and the offsets of one bucket (once per batch),
/// and an id is remembered if its newest entry is at or after that position. Decisions depend
/// only on the sequence of (fingerprint, time) inserted, never on the table's layout, so replay
/// and snapshot + replay decide exactly as the original run did; snapshots store the entries in
/// position order (`EventIdIndex+Snapshot.swift`), never the table.
///
/// Not thread-safe; owned by one `MeterStateMachine`.
struct EventIdIndex {
    static let chunkShift = 16
    static let chunkSize = 1 << chunkShift
    static let bucketShift: Int64 = 16

    struct Chunk {
        var fingerprints: [UInt128]
        var offsets: [UInt16]

        init() {
            fingerprints = []
            offsets = []
            fingerprints.reserveCapacity(EventIdIndex.chunkSize)
            offsets.reserveCapacity(EventIdIndex.chunkSize)
        }
    }

    /// Entries from `firstChunkPosition` on; chunk i holds positions firstChunkPosition + i * chunkSize ...
    var chunks: [Chunk] = []
    var firstChunkPosition = 0
    /// First position still kept (older ones expired) and the next position to fill.
    var headPosition = 0
    var tailPosition = 0
    /// Bucket numbers (time >> 16) and the first position of each, oldest first from `bucketHead`.
    var bucketNumbers: [Int64] = []
    var bucketFirstPositions: [Int] = []
    var bucketHead = 0

    private var slots: [UInt64]
    private var mask: Int
    /// Slots holding an entry, live or expired.
    private var occupiedSlots = 0
    private var sweepCursor = 0

    init(minimumCapacity: Int = 1024) {
        var capacity = 1024
        while capacity * 3 < minimumCapacity * 4 { capacity <<= 1 }
        slots = Array(repeating: 0, count: capacity)
        mask = capacity - 1
    }

    /// Entries kept (including those of the oldest bucket already past the window, until the
    /// bucket is dropped, and older entries of ids accepted again).
    var count: Int { tailPosition - headPosition }

    /// Bytes held: entry chunks (at their full size), the slot table and the bucket list.
    var byteCount: Int {
        chunks.count * Self.chunkSize * (MemoryLayout<UInt128>.stride + MemoryLayout<UInt16>.stride)
            + slots.count * MemoryLayout<UInt64>.stride
            + bucketNumbers.count * (MemoryLayout<Int64>.stride + MemoryLayout<Int>.stride)
    }

    /// Accept time of the newest entry, if any.
    var newestAcceptedAtMilliseconds: Int64? {
        guard tailPosition > headPosition, let bucket = bucketNumbers.last else { return nil }
        return (bucket << Self.bucketShift) + Int64(offset(at: tailPosition - 1))
    }

    // MARK: Positions and times

    @inline(__always)
    private func fingerprint(at position: Int) -> UInt128 {
        let relative = position - firstChunkPosition
        return chunks[relative >> Self.chunkShift].fingerprints[relative & (Self.chunkSize - 1)]
    }

    @inline(__always)
    private func offset(at position: Int) -> UInt16 {
        let relative = position - firstChunkPosition
        return chunks[relative >> Self.chunkShift].offsets[relative & (Self.chunkSize - 1)]
    }

    /// The first position whose accept time is at or after `milliseconds` (`tailPosition` if none).
    func firstPosition(acceptedAtOrAfter milliseconds: Int64) -> Int {
        // First bucket that may hold such a time: its end is after `milliseconds`.
        var low = bucketHead, high = bucketNumbers.count
        while low < high {
            let middle = (low + high) / 2
            if ((bucketNumbers[middle] &+ 1) << Self.bucketShift) > milliseconds { high = middle } else { low = middle + 1 }
        }
        guard low < bucketNumbers.count else { return tailPosition }
        let bucketStart = bucketNumbers[low] << Self.bucketShift
        var first = Swift.max(bucketFirstPositions[low], headPosition)
        if bucketStart >= milliseconds { return first }
        // Inside the bucket: offsets grow with position.
        let wanted = UInt16(truncatingIfNeeded: milliseconds - bucketStart)
        var last = low + 1 < bucketFirstPositions.count ? bucketFirstPositions[low + 1] : tailPosition
        while first < last {
            let middle = (first + last) / 2
            if offset(at: middle) >= wanted { last = middle } else { first = middle + 1 }
        }
        return first
    }

    // MARK: Lookup and insert

    @inline(__always)
    private static func hashBits(_ fingerprint: UInt128) -> UInt64 {
        // 32 bits that pick the home slot and prefilter comparisons.
        UInt64(truncatingIfNeeded: fingerprint) & 0xFFFF_FFFF
    }

    /// Whether the slot refers to a kept entry; its full position if so.
    @inline(__always)
    private func keptPosition(_ slot: UInt64) -> Int? {
        let distance = Int(UInt32(truncatingIfNeeded: slot) &- UInt32(truncatingIfNeeded: headPosition))
        return distance < tailPosition - headPosition ? headPosition + distance : nil
    }

    /// The position of the newest kept entry with `fingerprint`, or nil.
    @inline(__always)
    func position(of fingerprint: UInt128) -> Int? {
        let bits = Self.hashBits(fingerprint)
        var index = Int(truncatingIfNeeded: bits) & mask
        while true {
            let slot = slots[index]
            if slot == 0 { return nil }
            if slot >> 32 == bits, let position = keptPosition(slot), self.fingerprint(at: position) == fingerprint {
                return position
            }
            index = (index &+ 1) & mask
        }
    }

    /// Whether `fingerprint` has an entry at or after `firstLivePosition`.
    @inline(__always)
    func contains(_ fingerprint: UInt128, since firstLivePosition: Int) -> Bool {
        guard let position = position(of: fingerprint) else { return false }
        return position >= firstLivePosition
    }

    /// Remembers `fingerprint` as accepted at `milliseconds` unless it has an entry at or after
    /// `firstLivePosition`; returns false (a duplicate) then. `milliseconds` must not be earlier
    /// than the newest entry's time.
    @inline(__always)
    mutating func insert(_ fingerprint: UInt128, acceptedAtMilliseconds milliseconds: Int64, firstLivePosition: Int) -> Bool {
        if (occupiedSlots + 1) * 4 > slots.count * 3 { rebuild() }
        let bits = Self.hashBits(fingerprint)
        var index = Int(truncatingIfNeeded: bits) & mask
        var reusable = -1
        while true {
            let slot = slots[index]
            if slot == 0 { break }
            if let position = keptPosition(slot) {
                if slot >> 32 == bits, self.fingerprint(at: position) == fingerprint {
                    if position >= firstLivePosition { return false }
                    // Accepted again after its window: the slot now points at the new entry.
                    slots[index] = (bits << 32) | UInt64(UInt32(truncatingIfNeeded: tailPosition))
                    append(fingerprint, milliseconds)
                    sweep()
                    return true
                }
            } else if reusable < 0 {
                reusable = index
            }
            index = (index &+ 1) & mask
        }
        if reusable >= 0 {
            index = reusable
        } else {
            occupiedSlots += 1
        }
        slots[index] = (bits << 32) | UInt64(UInt32(truncatingIfNeeded: tailPosition))
        append(fingerprint, milliseconds)
        sweep()
        return true
    }

    private mutating func append(_ fingerprint: UInt128, _ milliseconds: Int64) {
        let bucket = milliseconds >> Self.bucketShift
        if bucketHead == bucketNumbers.count || bucketNumbers[bucketNumbers.count - 1] != bucket {
            precondition(bucketHead == bucketNumbers.count || bucketNumbers[bucketNumbers.count - 1] < bucket, "accept times must not go backwards")
            bucketNumbers.append(bucket)
            bucketFirstPositions.append(tailPosition)
        }
        let relative = tailPosition - firstChunkPosition
        if relative >> Self.chunkShift == chunks.count { chunks.append(Chunk()) }
        let chunk = relative >> Self.chunkShift
        chunks[chunk].fingerprints.append(fingerprint)
        chunks[chunk].offsets.append(UInt16(truncatingIfNeeded: milliseconds - (bucket << Self.bucketShift)))
        tailPosition += 1
    }

    // MARK: Expiry

    /// Drops every bucket whose entries are all accepted before `milliseconds`. O(buckets dropped
    /// + chunks freed); entries themselves are not visited.
    mutating func expire(acceptedBefore milliseconds: Int64) {
        var dropped = false
        while bucketHead < bucketNumbers.count, ((bucketNumbers[bucketHead] &+ 1) << Self.bucketShift) <= milliseconds {
            bucketHead += 1
            dropped = true
        }
        guard dropped else { return }
        headPosition = bucketHead < bucketFirstPositions.count ? bucketFirstPositions[bucketHead] : tailPosition
        var freed = 0
        while freed < chunks.count, firstChunkPosition + (freed + 1) * Self.chunkSize <= headPosition { freed += 1 }
        if freed > 0 {
            chunks.removeFirst(freed)
            firstChunkPosition += freed * Self.chunkSize
        }
        if bucketHead > 64, bucketHead * 2 > bucketNumbers.count {
            bucketNumbers.removeFirst(bucketHead)
            bucketFirstPositions.removeFirst(bucketHead)
            bucketHead = 0
        }
    }

    /// Removes expired slots among the next two, so that they never pile up between rebuilds.
    @inline(__always)
    private mutating func sweep() {
        for _ in 0..<2 {
            let slot = slots[sweepCursor]
            if slot != 0, keptPosition(slot) == nil {
                removeSlot(at: sweepCursor)   // a later slot may move in: look at this index again
            } else {
                sweepCursor = (sweepCursor &+ 1) & mask
            }
        }
    }

    /// Backward-shift deletion: pulls later members of the probe run into the hole.
    private mutating func removeSlot(at start: Int) {
        var hole = start
        var index = (start &+ 1) & mask
        while slots[index] != 0 {
            let home = Int(truncatingIfNeeded: slots[index] >> 32) & mask
            if ((index &- home) & mask) >= ((index &- hole) & mask) {
                slots[hole] = slots[index]
                hole = index
            }
            index = (index &+ 1) & mask
        }
        slots[hole] = 0
        occupiedSlots -= 1
    }

    /// Rebuilds the table from the kept entries, at the smallest capacity (at least the current
    /// one, or 1024 when `shrinking`) where they fill at most `maximumLoadEighths` / 8 of it.
    /// Growing uses 3/8 (the table then doubles when the index grew, and only drops expired
    /// slots when it did not); loading a snapshot uses 5/8, as a table that grew to that many
    /// entries would be.
    mutating func rebuild(maximumLoadEighths: Int = 3, shrinking: Bool = false) {
        var capacity = shrinking ? 1024 : Swift.max(1024, slots.count)
        while count * 8 > capacity * maximumLoadEighths { capacity <<= 1 }
        slots = Array(repeating: 0, count: capacity)
        mask = capacity - 1
        occupiedSlots = 0
        sweepCursor = 0
        if count < Self.chunkSize {
            for position in headPosition..<tailPosition {
                placeDuringRebuild(fingerprint(at: position), position: position)
            }
        } else {
            rebuildInHomeOrder()
        }
    }

    /// Fills the (empty) table with the kept entries in the order of their home slots.
    ///
    /// Inserting in position order touches a random slot per entry: with millions of entries
    /// the table is hundreds of megabytes and every insert misses the caches and the TLB (a
    /// snapshot of 10M ids spent most of its load here). So the slot values are first sorted by
    /// the top bits of their home slot (a counting sort into at most 4,096 ranges of at most
    /// 64 KiB of table each, two sequential passes over the entries), then placed range by
    /// range. The sort is stable, so entries of one fingerprint are still placed oldest first
    /// and the newest wins, as in position order; lookups never depend on the layout.
    private mutating func rebuildInHomeOrder() {
        let capacityBits = mask.nonzeroBitCount
        let rangeBits = Swift.max(0, Swift.min(12, capacityBits - 13))
        let shift = capacityBits - rangeBits
        var starts = [Int](repeating: 0, count: (1 << rangeBits) + 1)
        for position in headPosition..<tailPosition {
            let home = Int(truncatingIfNeeded: Self.hashBits(fingerprint(at: position))) & mask
            starts[(home >> shift) + 1] += 1
        }
        for range in 0..<(1 << rangeBits) { starts[range + 1] += starts[range] }
        var sorted = [UInt64](repeating: 0, count: count)
        sorted.withUnsafeMutableBufferPointer { sorted in
            for position in headPosition..<tailPosition {
                let bits = Self.hashBits(fingerprint(at: position))
                let range = (Int(truncatingIfNeeded: bits) & mask) >> shift
                sorted[starts[range]] = (bits << 32) | UInt64(UInt32(truncatingIfNeeded: position))
                starts[range] += 1
            }
        }
        for value in sorted { placeSortedDuringRebuild(value) }
    }

    /// Puts a slot value (hash bits and position) in the table, replacing an older entry of the
    /// same fingerprint; the fingerprints are read only when the 32 hash bits match.
    @inline(__always)
    private mutating func placeSortedDuringRebuild(_ value: UInt64) {
        let bits = value >> 32
        var index = Int(truncatingIfNeeded: bits) & mask
        while true {
            let slot = slots[index]
            if slot == 0 {
                occupiedSlots += 1
                break
            }
            if slot >> 32 == bits, let kept = keptPosition(slot), let mine = keptPosition(value),
               fingerprint(at: kept) == fingerprint(at: mine) { break }
            index = (index &+ 1) & mask
        }
        slots[index] = value
    }

    /// Puts `position` in the slot of its fingerprint, replacing an older entry of the same one.
    @inline(__always)
    private mutating func placeDuringRebuild(_ fingerprint: UInt128, position: Int) {
        let bits = Self.hashBits(fingerprint)
        var index = Int(truncatingIfNeeded: bits) & mask
        while true {
            let slot = slots[index]
            if slot == 0 { break }
            if slot >> 32 == bits, let kept = keptPosition(slot), self.fingerprint(at: kept) == fingerprint { break }
            index = (index &+ 1) & mask
        }
        if slots[index] == 0 { occupiedSlots += 1 }
        slots[index] = (bits << 32) | UInt64(UInt32(truncatingIfNeeded: position))
    }
}
