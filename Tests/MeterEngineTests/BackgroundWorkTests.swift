import Foundation
import XCTest
@testable import MeterEngine
#if canImport(Glibc)
import Glibc
#endif

/// Snapshots are serialized on a thread that lowers its own CPU priority, so the writer and the
/// event loops win the cores while one is written; the caller's own priority is left alone.
final class BackgroundWorkTests: XCTestCase {
    func testTheWorkRunsOnALowerPriorityThreadAndReturnsItsResult() throws {
        #if os(Linux)
        let callerNice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        let callerPolicy = sched_getscheduler(0)
        let seen = BackgroundWork.run(name: "test-background") { () -> (nice: Int32, policy: Int32, thread: pthread_t) in
            (getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0), sched_getscheduler(0), pthread_self())
        }
        XCTAssertEqual(seen.nice, max(callerNice, BackgroundWork.niceness), "the work's thread runs at the background nice value")
        XCTAssertEqual(seen.policy, 3, "the work's thread runs under SCHED_BATCH")
        XCTAssertEqual(pthread_equal(seen.thread, pthread_self()), 0, "the work runs on a thread of its own")
        XCTAssertEqual(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0), callerNice, "the caller keeps its priority")
        XCTAssertEqual(sched_getscheduler(0), callerPolicy, "the caller keeps its policy")
        #else
        throw XCTSkip("thread priorities are lowered on Linux only")
        #endif
    }
}
