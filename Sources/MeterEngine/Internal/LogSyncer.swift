import Foundation

/// The sync thread of the pipelined writer: runs the log's fdatasync for one group at a time
/// while the writer screens the next group. Its result is guarded by the engine's lock, whose
/// condition it broadcasts, so the writer waits for "a command arrived or the sync finished"
/// in one place.
final class LogSyncer: @unchecked Sendable {
    private let work = NSCondition()
    private var requested = false
    private var stopping = false
    private var stopped = false
    /// Guarded by `engineCondition`. nil while a sync runs.
    private var result: Result<Void, any Error>? = .success(())
    private let engineCondition: NSCondition
    private let synchronize: () throws -> Void

    init(engineCondition: NSCondition, synchronize: @escaping () throws -> Void) {
        self.engineCondition = engineCondition
        self.synchronize = synchronize
        let thread = Thread { [self] in run() }
        thread.name = "meterd-sync"
        thread.start()
    }

    /// Whether the last sync started has finished. The caller holds the engine's lock.
    var isFinishedWhileLocked: Bool { result != nil }

    /// Starts a sync of everything appended so far. One at a time: call `wait()` first.
    func start() {
        engineCondition.lock()
        precondition(result != nil, "a sync is already running")
        result = nil
        engineCondition.unlock()
        work.lock()
        requested = true
        work.signal()
        work.unlock()
    }

    /// Waits for the sync started last and returns how it went.
    func wait() -> Result<Void, any Error> {
        engineCondition.lock()
        defer { engineCondition.unlock() }
        while result == nil { engineCondition.wait() }
        return result!
    }

    /// Stops the thread once it is idle.
    func stop() {
        work.stopWorker(request: { stopping = true }, hasStopped: { stopped })
    }

    private func run() {
        while true {
            work.lock()
            while !requested && !stopping { work.wait() }
            if !requested {
                stopped = true
                work.broadcast()
                work.unlock()
                return
            }
            requested = false
            work.unlock()
            let outcome = Result<Void, any Error> { try synchronize() }
            engineCondition.lock()
            result = outcome
            engineCondition.broadcast()
            engineCondition.unlock()
        }
    }
}
