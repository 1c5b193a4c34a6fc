import Foundation

/// Runs two independent pieces of startup work at once: one on a thread of its own, the other
/// on the calling thread, and returns both results. Used by recovery to validate the log while
/// the snapshot is parsed (each takes about a second with 10M events, on different cores).
enum SideBySide {
    static func run<First, Second>(
        _ first: () -> First,
        alongside second: @escaping @Sendable () -> Second
    ) -> (First, Second) {
        let box = Box<Second>()
        let thread = Thread {
            box.value = second()
            box.done.signal()
        }
        thread.name = "meterd-recovery"
        thread.stackSize = 8 << 20
        thread.start()
        let firstValue = first()
        box.done.wait()
        return (firstValue, box.value!)
    }

    /// The second result, handed over under the semaphore.
    private final class Box<Value>: @unchecked Sendable {
        var value: Value?
        let done = DispatchSemaphore(value: 0)
    }
}
