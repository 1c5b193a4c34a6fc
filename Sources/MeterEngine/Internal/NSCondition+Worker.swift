import Foundation

extension NSCondition {
    /// Stops a worker thread that waits on this condition: `request` sets its stop flag under
    /// the lock, the worker is woken, and this waits until `hasStopped` says it has finished.
    func stopWorker(request: () -> Void, hasStopped: () -> Bool) {
        lock()
        request()
        signal()
        while !hasStopped() { wait() }
        unlock()
    }
}
