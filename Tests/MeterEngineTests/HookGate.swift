import Foundation

/// Holds an engine hook (`EngineOptions.beforeLogSync`, `beforeApply`) for the next `holds`
/// calls, one at a time, and says when each is reached, so that a test can act while the writer
/// is held at that point and then let it go.
final class HookGate: @unchecked Sendable {
    let reached = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var holds = 0

    func arm(_ count: Int) {
        lock.lock()
        holds = count
        lock.unlock()
    }

    /// The hook: returns at once unless armed, else signals `reached` and waits for `release`.
    func hold() {
        lock.lock()
        let hold = holds > 0
        if hold { holds -= 1 }
        lock.unlock()
        guard hold else { return }
        reached.signal()
        release.wait()
    }
}
