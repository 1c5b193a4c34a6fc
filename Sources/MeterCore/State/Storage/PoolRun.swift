/// A run of consecutive elements in one of a meter's pools (`BucketPool`): where it starts, how
/// many elements it holds and its room, a power of two (its size class; class 0 is a run with
/// no room, which holds nothing and owns no storage). 8 bytes.
struct PoolRun: Hashable, Sendable {
    /// Index of the run's first element in the pool's arrays.
    var start: UInt32 = 0
    /// Element count in the low 27 bits, size class in the high 5.
    private var packed: UInt32 = 0

    static let empty = PoolRun()
    /// Most elements one run may hold.
    static let maximumCount = (1 << 27) - 1

    init() {}

    init(start: UInt32, count: Int, sizeClass: Int) {
        self.start = start
        packed = UInt32(count) | UInt32(sizeClass) << 27
    }

    var count: Int {
        @inline(__always) get { Int(packed & 0x07FF_FFFF) }
        @inline(__always) set { packed = packed & 0xF800_0000 | UInt32(newValue) }
    }

    var isEmpty: Bool { count == 0 }

    /// 0: no storage; otherwise the run has room for 1 << (sizeClass - 1) elements.
    var sizeClass: Int { Int(packed >> 27) }

    var capacity: Int { Self.capacity(ofClass: sizeClass) }

    /// The element index range the run's elements occupy.
    var indices: Range<Int> { Int(start)..<(Int(start) + count) }

    @inline(__always)
    static func capacity(ofClass sizeClass: Int) -> Int { sizeClass == 0 ? 0 : 1 << (sizeClass - 1) }
}

/// The free runs of a pool, one list per size class, and where the pool's used space ends.
///
/// Runs only ever take room from the end of the pool or from a free run of their class: the
/// free lists make a run given back (when its series grows into a larger class, or empties
/// in a roll-up) the next run of that class, so a pool of many small series holds little slack.
/// Which element indexes a run gets never shows outside the pool (snapshots and answers list
/// buckets by key), so the layout does not have to be deterministic; it is anyway.
struct RunSpace: Sendable {
    private var free: [[UInt32]] = Array(repeating: [], count: 32)
    /// Elements in the pool's arrays, used or free.
    private(set) var end = 0
    /// Elements in free runs.
    private(set) var freeCount = 0

    /// A run start with room for `PoolRun.capacity(ofClass: sizeClass)` elements, and whether
    /// it lies at the old end (the caller extends its arrays by that many elements).
    @inline(__always)
    mutating func take(sizeClass: Int) -> (start: UInt32, fresh: Bool) {
        if let start = free[sizeClass].popLast() {
            freeCount -= PoolRun.capacity(ofClass: sizeClass)
            return (start, false)
        }
        let start = end
        end += PoolRun.capacity(ofClass: sizeClass)
        precondition(end <= Int(UInt32.max), "a meter's pool would exceed 2^32 elements")
        return (UInt32(start), true)
    }

    /// Takes back the room of `run` (nothing for a run without storage).
    @inline(__always)
    mutating func give(_ run: PoolRun) {
        guard run.sizeClass != 0 else { return }
        free[run.sizeClass].append(run.start)
        freeCount += run.capacity
    }
}
