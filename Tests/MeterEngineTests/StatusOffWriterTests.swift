import Foundation
import MeterCore
import MeterEngine
import XCTest

/// Health reads the counters the writer published after its last group commit, so it answers
/// while the writer thread is busy. The writer is held deterministically inside a read command
/// (reads run on the writer thread) until the test releases it; if `status()` queued behind
/// the writer, it could not answer before the release and the test would fail on its deadline.
final class StatusOffWriterTests: XCTestCase {
    func testStatusAnswersWhileTheWriterIsHeld() async throws {
        let directory = DataDirectory(self)
        let engine = try MeterEngine.open(options: options(directory))
        _ = try await engine.createMeter(tokensMeter)
        _ = try await engine.ingest(events: [usageEvent("first", tokens: 5)])
        let before = await engine.status()

        let reached = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let heldRead = Task {
            try await engine.read { _ throws(MeterError) in
                reached.signal()
                release.wait()
                return 1
            }
        }
        let writerHeld = await Task.detached { reached.wait(timeout: .now() + 10) }.value
        XCTAssertEqual(writerHeld, .success, "the read never reached the writer")

        // An ingest queued behind the held writer is counted in the status without waiting.
        let queuedIngest = Task { try await engine.ingest(events: [usageEvent("second", tokens: 7)]) }
        // Asked from a task and awaited with a deadline, so a status that queued behind the
        // writer fails the test instead of hanging it.
        let answered = DispatchSemaphore(value: 0)
        Task {
            _ = await engine.status()
            answered.signal()
        }
        let statusAnswered = await Task.detached { answered.wait(timeout: .now() + 10) }.value
        XCTAssertEqual(statusAnswered, .success, "status() waited for the writer")
        var status = await engine.status()
        let deadline = Date().addingTimeInterval(10)
        while status.queuedEvents == 0 && Date() < deadline {
            await Task.yield()
            status = await engine.status()
        }
        XCTAssertEqual(status.queuedEvents, 1, "the queued ingest should show while the writer is held")
        XCTAssertEqual(status.lastAppliedSequence, before.lastAppliedSequence, "nothing can have been applied while the writer is held")
        XCTAssertNil(status.failure)

        release.signal()
        let readValue = try await heldRead.value
        XCTAssertEqual(readValue, 1)
        let results = try await queuedIngest.value
        XCTAssertEqual(results.count, 1)
        let after = await engine.status()
        XCTAssertEqual(after.lastAppliedSequence, before.lastAppliedSequence + 1)
        XCTAssertEqual(after.queuedEvents, 0)
        await engine.shutdown()
    }
}
