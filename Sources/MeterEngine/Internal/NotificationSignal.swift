import Foundation

/// Wakes callers waiting for a threshold notification numbered above the one they saw. The
/// writer publishes the newest number after each group is applied (before its replies);
/// waiters are resumed then, or when their deadline passes, whichever comes first.
final class NotificationSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var lastNumber: UInt64 = 0
    private var nextWaiter: UInt64 = 0
    private var waiters: [UInt64: (after: UInt64, continuation: CheckedContinuation<Void, Never>)] = [:]

    /// Most callers that may wait at once; beyond it `wait` returns false at once (the caller
    /// answers with what it has, so a flood of long polls cannot hold unbounded memory).
    static let waitersMaximumCount = 10_000

    func publish(_ number: UInt64) {
        lock.lock()
        guard number > lastNumber else { return lock.unlock() }
        lastNumber = number
        var ready: [CheckedContinuation<Void, Never>] = []
        for (id, waiter) in waiters where waiter.after < number {
            ready.append(waiter.continuation)
            waiters[id] = nil
        }
        lock.unlock()
        for continuation in ready { continuation.resume() }
    }

    /// Returns once a number above `after` is published, `deadline` (a `ContinuousClock`
    /// instant) passes, or the calling task is cancelled; false when it did not wait because
    /// `waitersMaximumCount` callers already wait.
    @discardableResult
    func wait(after: UInt64, until deadline: ContinuousClock.Instant) async -> Bool {
        let waiterId: UInt64 = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        if lock.withLock({ waiters.count >= Self.waitersMaximumCount }) { return false }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                lock.lock()
                guard lastNumber <= after, !Task.isCancelled else {
                    lock.unlock()
                    continuation.resume()
                    return
                }
                waiters[waiterId] = (after, continuation)
                lock.unlock()
                Task { [weak self] in
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    self?.expire(waiterId)
                }
            }
        } onCancel: {
            expire(waiterId)
        }
        return true
    }

    private func expire(_ id: UInt64) {
        lock.lock()
        let waiter = waiters.removeValue(forKey: id)
        lock.unlock()
        waiter?.continuation.resume()
    }
}
