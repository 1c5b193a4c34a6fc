import Foundation

/// Runs `body(0..<count)` on `count` OS threads at once and returns their results in order.
/// Each worker blocks on its own connection, so the benchmark uses threads, not a pool.
func runOnThreads<Result>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Result) throws -> [Result] {
    let results = ThreadResults<Result>(count: count)
    let done = DispatchGroup()
    for index in 0..<count {
        done.enter()
        let thread = Thread {
            results.set(index, Swift.Result { try body(index) })
            done.leave()
        }
        thread.stackSize = 4 << 20
        thread.start()
    }
    done.wait()
    return try results.values()
}

/// Results written by worker threads, read after they all finished.
private final class ThreadResults<Value>: @unchecked Sendable {
    private var slots: [Swift.Result<Value, any Error>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Swift.Result<Value, any Error>) {
        lock.withLock { slots[index] = result }
    }

    func values() throws -> [Value] {
        try lock.withLock { try slots.map { try $0!.get() } }
    }
}

/// A value shared with worker threads, guarded by a lock.
final class Shared<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withValue<T>(_ body: (inout Value) throws -> T) rethrows -> T { try lock.withLock { try body(&value) } }
}

/// Monotonic seconds since an arbitrary start.
func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
