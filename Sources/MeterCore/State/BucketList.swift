/// Buckets of one tier (minutes or hours) of one series, sorted by key, in two parallel arrays.
///
/// Usage arrives mostly in time order, so the common case touches the last bucket or appends
/// one; a late event costs a binary search (and, when it opens a new bucket, a shift). Sorted
/// keys also let a query jump straight to its range.
struct BucketList: Sendable {
    private(set) var keys: [Int64] = []
    private(set) var aggregates: [Aggregate] = []

    var isEmpty: Bool { keys.isEmpty }
    var count: Int { keys.count }

    /// Index of the first bucket whose key is >= `key`.
    func lowerBound(_ key: Int64) -> Int {
        var low = 0
        var high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if keys[middle] < key { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Index of the bucket for `key`, inserting an empty one if needed.
    @inline(__always)
    mutating func index(for key: Int64) -> Int {
        if let last = keys.last {
            if last == key { return keys.count - 1 }
            if last < key {
                keys.append(key)
                aggregates.append(.empty)
                return keys.count - 1
            }
        } else {
            keys.append(key)
            aggregates.append(.empty)
            return 0
        }
        let position = lowerBound(key)
        if keys[position] != key {
            keys.insert(key, at: position)
            aggregates.insert(.empty, at: position)
        }
        return position
    }

    /// Folds one event into bucket `key`. Returns false, changing nothing, on overflow.
    @inline(__always)
    mutating func add(
        _ units: Int128, to key: Int64, kind: AggregationKind, timestamp: Int64, sequence: UInt64, index eventIndex: UInt32
    ) -> Bool {
        let position = index(for: key)
        let added = aggregates[position].add(units, kind: kind, timestamp: timestamp, sequence: sequence, index: eventIndex)
        if !added && aggregates[position].count == 0 {
            keys.remove(at: position)
            aggregates.remove(at: position)
        }
        return added
    }

    /// Merges `aggregate` into bucket `key`. Returns false, changing nothing, on overflow.
    mutating func merge(_ aggregate: Aggregate, into key: Int64, kind: AggregationKind) -> Bool {
        let position = index(for: key)
        guard let merged = aggregates[position].merged(with: aggregate, kind: kind) else {
            if aggregates[position].count == 0 {
                keys.remove(at: position)
                aggregates.remove(at: position)
            }
            return false
        }
        aggregates[position] = merged
        return true
    }

    /// Changes the aggregate at `position` in place (tests use it to reach the limits of Int128).
    mutating func modifyAggregate(at position: Int, _ body: (inout Aggregate) -> Void) {
        body(&aggregates[position])
    }

    /// Removes the first `count` buckets.
    mutating func removeFirst(_ count: Int) {
        keys.removeFirst(count)
        aggregates.removeFirst(count)
    }

    /// Rebuilds a list from sorted, unique keys (snapshots).
    init(keys: [Int64], aggregates: [Aggregate]) {
        precondition(keys.count == aggregates.count)
        self.keys = keys
        self.aggregates = aggregates
    }

    init() {}
}
