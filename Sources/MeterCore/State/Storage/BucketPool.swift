/// One bucket as a meter's `BucketPool` keeps it: its key (minutes or hours since 1970, by its
/// tier) and the events folded in. 16 bytes; the value (see `Aggregate`) is kept beside it by
/// the meters that have one.
struct StoredBucket: Sendable {
    var key: Int64
    var count: Int64
}

/// LATEST's tie-break fields of a bucket (see `Aggregate`); only LATEST meters keep them.
struct LatestTie: Sendable {
    var timestamp: Int64 = .min
    var sequence: UInt64 = 0
    var index: UInt32 = 0
}

/// Every bucket of one meter, in flat arrays: each tier (minutes, hours) of each series is a
/// `PoolRun` of buckets sorted by key, and for COUNT_UNIQUE each bucket's distinct values are a
/// run of value numbers (the meter's `InternedStrings`) in a second pool.
///
/// This replaces an object per series holding two pairs of arrays and two dictionaries of sets,
/// which cost about 300-600 bytes for a customer with one bucket: here a bucket costs 16 bytes
/// (plus 16 for the value of SUM, AVG, MIN, MAX and LATEST, 24 for LATEST's tie-break, or 8
/// and 4 per distinct value for COUNT_UNIQUE),
/// and a series its two 8-byte runs. The semantics are exactly `BucketList`'s were: an event
/// opens its bucket (a binary search unless it is the last one or after it), a failed fold
/// that leaves a bucket empty removes it, roll-up merges minutes into hours in key order.
///
/// Distinct values of a bucket: up to 16 as an unordered list (a linear scan is the membership
/// test), beyond that an open-addressing set over the whole run (`UInt32.max` marks a free
/// slot, at most 3/4 full), so a bucket with many distinct values never shifts them around.
struct BucketPool: Sendable {
    let kind: AggregationKind
    private(set) var buckets: [StoredBucket] = []
    /// Parallel to `buckets`; meters whose aggregate has a value (all but COUNT and COUNT_UNIQUE).
    private var sums: [Int128] = []
    /// Parallel to `buckets`; LATEST meters only.
    private var ties: [LatestTie] = []
    /// Parallel to `buckets`; COUNT_UNIQUE meters only: each bucket's run in `values`.
    private var uniqueRuns: [PoolRun] = []
    /// Distinct value numbers, COUNT_UNIQUE meters only.
    private var values: [UInt32] = []
    private var bucketSpace = RunSpace()
    private var valueSpace = RunSpace()
    private let keepsTies: Bool
    /// False for COUNT and COUNT_UNIQUE, whose aggregates' value is always 0.
    let keepsValues: Bool
    private let keepsUniques: Bool

    /// Runs of values up to this size are unordered lists; larger ones are hash sets.
    private static let listClassLimit = 5  // capacity 16
    private static let freeValue = UInt32.max

    init(kind: AggregationKind) {
        self.kind = kind
        keepsTies = kind == .latest
        keepsValues = kind != .count && kind != .countUnique
        keepsUniques = kind == .countUnique
    }

    // MARK: Reading

    @inline(__always)
    func key(_ run: PoolRun, _ position: Int) -> Int64 { buckets[Int(run.start) + position].key }

    /// The bucket at element index `index` as an `Aggregate`.
    @inline(__always)
    func aggregate(at index: Int) -> Aggregate {
        let bucket = buckets[index]
        var aggregate = Aggregate(count: bucket.count, value: keepsValues ? sums[index] : 0)
        if keepsTies {
            let tie = ties[index]
            aggregate.latestTimestamp = tie.timestamp
            aggregate.latestSequence = tie.sequence
            aggregate.latestIndex = tie.index
        }
        return aggregate
    }

    @inline(__always)
    func aggregate(_ run: PoolRun, _ position: Int) -> Aggregate { aggregate(at: Int(run.start) + position) }

    /// Position in `run` of the first bucket whose key is >= `key`.
    func lowerBound(_ run: PoolRun, _ key: Int64) -> Int {
        let base = Int(run.start)
        var low = 0
        var high = run.count
        while low < high {
            let middle = (low + high) / 2
            if buckets[base + middle].key < key { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The number of distinct values of the bucket at element index `index` (COUNT_UNIQUE).
    func uniqueCount(at index: Int) -> Int { keepsUniques ? uniqueRuns[index].count : 0 }

    /// Calls `body` with each distinct value number of the bucket at `index`, in no set order.
    @inline(__always)
    func forEachUnique(at index: Int, _ body: (UInt32) -> Void) {
        guard keepsUniques else { return }
        let run = uniqueRuns[index]
        if run.sizeClass <= Self.listClassLimit {
            for position in run.indices { body(values[position]) }
        } else {
            let base = Int(run.start)
            for position in base..<(base + run.capacity) where values[position] != Self.freeValue { body(values[position]) }
        }
    }

    // MARK: Changing a run of buckets

    /// Folds one event into bucket `key` of `run`. Returns the bucket's element index, or nil,
    /// changing nothing, on overflow.
    @inline(__always)
    mutating func add(_ units: Int128, to key: Int64, in run: inout PoolRun, timestamp: Int64, sequence: UInt64, index eventIndex: UInt32) -> Int? {
        let position = self.position(for: key, in: &run)
        let index = Int(run.start) + position
        var aggregate = self.aggregate(at: index)
        guard aggregate.add(units, kind: kind, timestamp: timestamp, sequence: sequence, index: eventIndex) else {
            if aggregate.count == 0 { remove(at: position, in: &run) }
            return nil
        }
        store(aggregate, at: index)
        return index
    }

    /// Merges `aggregate` into bucket `key` of `run`. Returns the bucket's element index, or
    /// nil, changing nothing, on overflow.
    mutating func merge(_ aggregate: Aggregate, into key: Int64, in run: inout PoolRun) -> Int? {
        let position = self.position(for: key, in: &run)
        let index = Int(run.start) + position
        guard let merged = self.aggregate(at: index).merged(with: aggregate, kind: kind) else {
            if buckets[index].count == 0 { remove(at: position, in: &run) }
            return nil
        }
        store(merged, at: index)
        return index
    }

    /// Changes the aggregate at `position` of `run` in place (tests reach the limits of Int128 with it).
    mutating func modifyAggregate(_ run: PoolRun, at position: Int, _ body: (inout Aggregate) -> Void) {
        let index = Int(run.start) + position
        var aggregate = self.aggregate(at: index)
        body(&aggregate)
        store(aggregate, at: index)
    }

    @inline(__always)
    private mutating func store(_ aggregate: Aggregate, at index: Int) {
        buckets[index].count = aggregate.count
        if keepsValues { sums[index] = aggregate.value }
        if keepsTies {
            ties[index] = LatestTie(timestamp: aggregate.latestTimestamp, sequence: aggregate.latestSequence, index: aggregate.latestIndex)
        }
    }

    /// Position of the bucket for `key` in `run`, inserting an empty one if needed. Usage
    /// arrives mostly in time order: the last bucket or a new one after it is the common case.
    @inline(__always)
    private mutating func position(for key: Int64, in run: inout PoolRun) -> Int {
        let count = run.count
        guard count > 0 else {
            insertEmpty(key, at: 0, in: &run)
            return 0
        }
        let last = buckets[Int(run.start) + count - 1].key
        if last == key { return count - 1 }
        if last < key {
            insertEmpty(key, at: count, in: &run)
            return count
        }
        let position = lowerBound(run, key)
        if buckets[Int(run.start) + position].key != key { insertEmpty(key, at: position, in: &run) }
        return position
    }

    /// Appends a bucket after the last of `run` (snapshots; keys must increase).
    mutating func append(key: Int64, _ aggregate: Aggregate, to run: inout PoolRun) {
        insertEmpty(key, at: run.count, in: &run)
        store(aggregate, at: Int(run.start) + run.count - 1)
    }

    private mutating func insertEmpty(_ key: Int64, at position: Int, in run: inout PoolRun) {
        precondition(run.count < PoolRun.maximumCount, "a series tier would exceed \(PoolRun.maximumCount) buckets")
        if run.count == run.capacity { relocate(&run, toClass: run.sizeClass + 1) }
        let start = Int(run.start)
        var index = start + run.count
        while index > start + position {
            move(from: index - 1, to: index)
            index -= 1
        }
        buckets[index] = StoredBucket(key: key, count: 0)
        if keepsValues { sums[index] = 0 }
        if keepsTies { ties[index] = LatestTie() }
        if keepsUniques { uniqueRuns[index] = .empty }
        run.count += 1
    }

    /// Moves `run` into a run of class `sizeClass` (large enough for its buckets).
    private mutating func relocate(_ run: inout PoolRun, toClass sizeClass: Int) {
        let (start, fresh) = bucketSpace.take(sizeClass: sizeClass)
        if fresh {
            let added = PoolRun.capacity(ofClass: sizeClass)
            buckets.append(contentsOf: repeatElement(StoredBucket(key: 0, count: 0), count: added))
            if keepsValues { sums.append(contentsOf: repeatElement(0, count: added)) }
            if keepsTies { ties.append(contentsOf: repeatElement(LatestTie(), count: added)) }
            if keepsUniques { uniqueRuns.append(contentsOf: repeatElement(.empty, count: added)) }
        }
        for offset in 0..<run.count { move(from: Int(run.start) + offset, to: Int(start) + offset) }
        bucketSpace.give(run)
        run = PoolRun(start: start, count: run.count, sizeClass: sizeClass)
    }

    /// Copies a bucket (with its tie-break and its values' run, whose ownership goes along).
    @inline(__always)
    private mutating func move(from source: Int, to target: Int) {
        buckets[target] = buckets[source]
        if keepsValues { sums[target] = sums[source] }
        if keepsTies { ties[target] = ties[source] }
        if keepsUniques { uniqueRuns[target] = uniqueRuns[source] }
    }

    /// Removes the bucket at `position` of `run` (and its distinct values).
    private mutating func remove(at position: Int, in run: inout PoolRun) {
        let start = Int(run.start)
        if keepsUniques { releaseUniques(at: start + position) }
        for index in (start + position)..<(start + run.count - 1) { move(from: index + 1, to: index) }
        shrink(&run, by: 1)
    }

    /// Removes the first `count` buckets of `run`; their distinct values must have been moved
    /// or released already.
    mutating func removeFirst(_ count: Int, of run: inout PoolRun) {
        guard count > 0 else { return }
        let start = Int(run.start)
        for index in start..<(start + run.count - count) { move(from: index + count, to: index) }
        shrink(&run, by: count)
    }

    private mutating func shrink(_ run: inout PoolRun, by removed: Int) {
        run.count -= removed
        if run.count == 0 {
            bucketSpace.give(run)
            run = .empty
        }
    }

    // MARK: Distinct values (COUNT_UNIQUE)

    /// Adds `value` to the distinct values of the bucket at element index `index`.
    @inline(__always)
    mutating func insertUnique(_ value: UInt32, at index: Int) {
        var run = uniqueRuns[index]
        if run.sizeClass <= Self.listClassLimit {
            let base = Int(run.start)
            for position in base..<(base + run.count) where values[position] == value { return }
            if run.count == run.capacity {
                if run.sizeClass == Self.listClassLimit {
                    run = rehash(run, toClass: run.sizeClass + 1)
                    hashInsert(value, into: &run)
                    uniqueRuns[index] = run
                    return
                }
                run = relocateList(run, toClass: run.sizeClass + 1)
            }
            values[Int(run.start) + run.count] = value
            run.count += 1
        } else {
            precondition(run.count < PoolRun.maximumCount, "a bucket would exceed \(PoolRun.maximumCount) distinct values")
            if (run.count + 1) * 4 > run.capacity * 3 { run = rehash(run, toClass: run.sizeClass + 1) }
            hashInsert(value, into: &run)
        }
        uniqueRuns[index] = run
    }

    /// Gives back the values' run of the bucket at `index` (it keeps no values).
    mutating func releaseUniques(at index: Int) {
        valueSpace.give(uniqueRuns[index])
        uniqueRuns[index] = .empty
    }

    @inline(__always)
    private static func home(_ value: UInt32, capacity: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(value) &* 0x9E37_79B9_7F4A_7C15) >> 32) & (capacity - 1)
    }

    /// Inserts into a hash-set run with room to spare.
    private mutating func hashInsert(_ value: UInt32, into run: inout PoolRun) {
        let base = Int(run.start)
        let mask = run.capacity - 1
        var slot = Self.home(value, capacity: run.capacity)
        while true {
            let stored = values[base + slot]
            if stored == value { return }
            if stored == Self.freeValue {
                values[base + slot] = value
                run.count += 1
                return
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func takeValues(sizeClass: Int) -> UInt32 {
        let (start, fresh) = valueSpace.take(sizeClass: sizeClass)
        if fresh { values.append(contentsOf: repeatElement(Self.freeValue, count: PoolRun.capacity(ofClass: sizeClass))) }
        return start
    }

    private mutating func relocateList(_ run: PoolRun, toClass sizeClass: Int) -> PoolRun {
        let start = takeValues(sizeClass: sizeClass)
        for offset in 0..<run.count { values[Int(start) + offset] = values[Int(run.start) + offset] }
        valueSpace.give(run)
        return PoolRun(start: start, count: run.count, sizeClass: sizeClass)
    }

    /// A hash-set run of class `sizeClass` holding the values of `run` (a list or a set).
    private mutating func rehash(_ run: PoolRun, toClass sizeClass: Int) -> PoolRun {
        precondition(run.count < PoolRun.maximumCount, "a bucket would exceed \(PoolRun.maximumCount) distinct values")
        let start = takeValues(sizeClass: sizeClass)
        let capacity = PoolRun.capacity(ofClass: sizeClass)
        for position in Int(start)..<(Int(start) + capacity) { values[position] = Self.freeValue }
        var moved = PoolRun(start: start, count: 0, sizeClass: sizeClass)
        let base = Int(run.start)
        let span = run.sizeClass <= Self.listClassLimit ? run.count : run.capacity
        for position in base..<(base + span) where values[position] != Self.freeValue {
            hashInsert(values[position], into: &moved)
        }
        valueSpace.give(run)
        return moved
    }

    // MARK: Memory

    /// Bytes of the pool's arrays (their capacity) and how many of them sit in free runs.
    var byteCount: (held: Int, free: Int) {
        let perBucket = MemoryLayout<StoredBucket>.stride + (keepsValues ? 16 : 0) + (keepsTies ? MemoryLayout<LatestTie>.stride : 0)
            + (keepsUniques ? MemoryLayout<PoolRun>.stride : 0)
        let held = buckets.capacity * MemoryLayout<StoredBucket>.stride + sums.capacity * 16 + ties.capacity * MemoryLayout<LatestTie>.stride
            + uniqueRuns.capacity * MemoryLayout<PoolRun>.stride + values.capacity * 4
        return (held, bucketSpace.freeCount * perBucket + valueSpace.freeCount * 4)
    }
}
