/// The series of one meter, each a (customer, group) combination with its minute and hour
/// buckets, kept compactly: series are numbered in creation order; per series the store keeps
/// its key (customer number << 32 | group number) and the runs of its two tiers in the meter's
/// `BucketPool`; a meter without group-by finds a customer's series through an array indexed by
/// customer number (4 bytes per customer of the tenant), a meter with group-by through a
/// dictionary from series key to series number.
///
/// About 28 bytes per series and 16-32 per bucket (see `BucketPool`), where one `Series` object with
/// its own arrays and dictionaries used to cost several hundred. Which series number a series
/// gets never shows outside the store: snapshots list series by key and buckets by key.
struct SeriesStore: Sendable {
    /// Which tier of a series: minute buckets (recent usage) or hour buckets (rolled up, or late).
    enum Tier { case minutes, hours }

    let kind: AggregationKind
    let grouped: Bool
    /// Series key (customer number << 32 | group number) by series number.
    private(set) var keys: [UInt64] = []
    private(set) var minuteRuns: [PoolRun] = []
    private(set) var hourRuns: [PoolRun] = []
    /// Without group-by: each customer's series number + 1 (0: none). With group-by: 1 when the
    /// customer has at least one series. Indexed by the tenant's customer number.
    private var byCustomer: [UInt32] = []
    /// With group-by: series number by series key.
    private var byKey: [UInt64: UInt32] = [:]
    /// Customers with at least one series.
    private(set) var customerCount = 0
    private(set) var pool: BucketPool
    /// COUNT_UNIQUE: the distinct values seen, numbered (buckets keep the numbers).
    private(set) var uniqueValues = InternedStrings(minimumCapacity: 0)

    init(kind: AggregationKind, grouped: Bool) {
        self.kind = kind
        self.grouped = grouped
        pool = BucketPool(kind: kind)
    }

    /// Number of series.
    var count: Int { keys.count }

    @inline(__always)
    static func key(customer: UInt32, group: UInt32) -> UInt64 { UInt64(customer) << 32 | UInt64(group) }

    @inline(__always)
    func customer(ofSeries series: Int) -> UInt32 { UInt32(truncatingIfNeeded: keys[series] >> 32) }

    @inline(__always)
    func group(ofSeries series: Int) -> UInt32 { UInt32(truncatingIfNeeded: keys[series]) }

    /// Whether the customer has at least one series here.
    func hasCustomer(_ customer: UInt32) -> Bool {
        Int(customer) < byCustomer.count && byCustomer[Int(customer)] != 0
    }

    /// The series number of (customer, group), if it exists.
    @inline(__always)
    func series(customer: UInt32, group: UInt32) -> Int? {
        if grouped { return byKey[Self.key(customer: customer, group: group)].map { Int($0) } }
        guard group == 0, Int(customer) < byCustomer.count else { return nil }
        let stored = byCustomer[Int(customer)]
        return stored == 0 ? nil : Int(stored &- 1)
    }

    /// The series number of (customer, group), creating the series when it is new.
    @inline(__always)
    mutating func seriesCreating(customer: UInt32, group: UInt32) -> Int {
        if let existing = series(customer: customer, group: group) { return existing }
        return create(customer: customer, group: group)
    }

    /// Creates the series (customer, group), which must not exist; returns its number.
    mutating func create(customer: UInt32, group: UInt32) -> Int {
        precondition(grouped || group == 0, "a meter without group-by has group 0 only")
        let number = keys.count
        precondition(number < Int(UInt32.max), "more than 2^32 - 1 series in one meter")
        keys.append(Self.key(customer: customer, group: group))
        minuteRuns.append(.empty)
        hourRuns.append(.empty)
        if Int(customer) >= byCustomer.count {
            byCustomer.append(contentsOf: repeatElement(0, count: Int(customer) + 1 - byCustomer.count))
        }
        if byCustomer[Int(customer)] == 0 { customerCount += 1 }
        if grouped {
            byKey[Self.key(customer: customer, group: group)] = UInt32(number)
            byCustomer[Int(customer)] = 1
        } else {
            byCustomer[Int(customer)] = UInt32(number + 1)
        }
        return number
    }

    @inline(__always)
    func run(_ series: Int, _ tier: Tier) -> PoolRun {
        tier == .minutes ? minuteRuns[series] : hourRuns[series]
    }

    // MARK: Counting

    /// Folds one event into bucket `key` of the series' `tier`, and, for COUNT_UNIQUE, its
    /// value into the bucket's distinct values. Returns false, changing nothing, on overflow;
    /// `valueNumber` is the interned number of `uniqueValue` when it was added.
    @inline(__always)
    mutating func add(
        _ units: Int128, series: Int, tier: Tier, key: Int64, uniqueValue: String?,
        timestamp: Int64, sequence: UInt64, index: UInt32
    ) -> (added: Bool, valueNumber: UInt32?) {
        let bucket: Int?
        switch tier {
        case .minutes: bucket = pool.add(units, to: key, in: &minuteRuns[series], timestamp: timestamp, sequence: sequence, index: index)
        case .hours: bucket = pool.add(units, to: key, in: &hourRuns[series], timestamp: timestamp, sequence: sequence, index: index)
        }
        guard let bucket else { return (false, nil) }
        guard let uniqueValue else { return (true, nil) }
        let number = uniqueValues.intern(uniqueValue)
        pool.insertUnique(number, at: bucket)
        return (true, number)
    }

    /// Moves every minute bucket that starts before `cutoffMinute` into its hour bucket, in
    /// key order, stopping a series at a merge that would overflow (a query over it reports it).
    mutating func rollUp(beforeMinute cutoffMinute: Int64) {
        for series in 0..<keys.count {
            let minutes = minuteRuns[series]
            guard !minutes.isEmpty, pool.key(minutes, 0) < cutoffMinute else { continue }
            let end = pool.lowerBound(minutes, cutoffMinute)
            var rolled = 0
            for position in 0..<end {
                let index = Int(minutes.start) + position
                let hour = pool.buckets[index].key.flooredDivision(by: 60)
                guard let target = pool.merge(pool.aggregate(at: index), into: hour, in: &hourRuns[series]) else { break }
                if kind == .countUnique {
                    var moved: [UInt32] = []
                    pool.forEachUnique(at: index) { moved.append($0) }
                    for value in moved { pool.insertUnique(value, at: target) }
                    pool.releaseUniques(at: index)
                }
                rolled += 1
            }
            pool.removeFirst(rolled, of: &minuteRuns[series])
        }
    }

    /// Changes the aggregate at `position` of the series' `tier` in place (tests).
    mutating func modifyAggregate(series: Int, tier: Tier, at position: Int, _ body: (inout Aggregate) -> Void) {
        pool.modifyAggregate(run(series, tier), at: position, body)
    }

    // MARK: Snapshots

    /// Appends a bucket after the last one of the series' tier (keys must increase).
    mutating func append(series: Int, tier: Tier, key: Int64, _ aggregate: Aggregate) {
        switch tier {
        case .minutes: pool.append(key: key, aggregate, to: &minuteRuns[series])
        case .hours: pool.append(key: key, aggregate, to: &hourRuns[series])
        }
    }

    /// Adds a distinct value to the bucket at `position` of the series' tier (snapshots).
    mutating func insertUnique(_ value: String, series: Int, tier: Tier, at position: Int) {
        let number = uniqueValues.intern(value)
        pool.insertUnique(number, at: Int(run(series, tier).start) + position)
    }

    /// The distinct values of the bucket at element index `index`, as text, sorted.
    func sortedUniqueValues(at index: Int) -> [String] {
        var texts: [String] = []
        texts.reserveCapacity(pool.uniqueCount(at: index))
        pool.forEachUnique(at: index) { texts.append(uniqueValues.strings[Int($0)]) }
        return texts.sorted()
    }

    // MARK: Memory

    /// Bytes this store holds in its arrays and tables (capacities, not counting string storage).
    var byteCount: Int {
        let perSeries = MemoryLayout<UInt64>.stride + 2 * MemoryLayout<PoolRun>.stride
        return keys.capacity * perSeries + byCustomer.capacity * 4 + byKey.capacity * 12
            + pool.byteCount.held + uniqueValues.byteCount
    }
}
