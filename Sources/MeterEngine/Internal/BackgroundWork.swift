import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a long piece of background work (serializing and writing a snapshot) on a thread of
/// its own at a lower CPU priority, and waits for it.
///
/// On a machine with few cores the snapshot's serialization competes with the writer, the
/// event loops and the clients for the same cores; at the same priority it delays acks by
/// whole scheduler slices. On Linux the thread switches itself to SCHED_BATCH with nice
/// `niceness` (both are per-thread there), so the scheduler lets the writer and the event
/// loops run first whenever they are ready. It only ever lowers its own priority, which needs
/// no privilege (also from a real-time policy set with `chrt`). Elsewhere it runs unchanged.
enum BackgroundWork {
    /// The nice value of the thread. 10 gives it about a tenth of a core's share against a
    /// busy thread at nice 0, and the whole core when the machine is otherwise idle.
    static let niceness: Int32 = 10

    /// Runs `body` on a new lower-priority thread and returns its result.
    static func run<Value>(name: String, _ body: @escaping () -> Value) -> Value {
        let work = Work(body)
        let thread = Thread { [work] in
            lowerCurrentThreadPriority()
            work.run()
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
        return work.wait()
    }

    /// Lowers the calling thread's priority as described above; failures leave it unchanged.
    static func lowerCurrentThreadPriority() {
        #if os(Linux)
        var parameters = sched_param(sched_priority: 0)
        let schedBatch: Int32 = 3  // SCHED_BATCH: Swift's Glibc exports it only under _GNU_SOURCE
        _ = sched_setscheduler(0, schedBatch, &parameters)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
        #endif
    }

    /// The body and its result, handed between the two threads under a semaphore.
    private final class Work<Value>: @unchecked Sendable {
        private let body: () -> Value
        private var value: Value?
        private let done = DispatchSemaphore(value: 0)

        init(_ body: @escaping () -> Value) { self.body = body }

        func run() {
            value = body()
            done.signal()
        }

        func wait() -> Value {
            done.wait()
            return value!
        }
    }
}
