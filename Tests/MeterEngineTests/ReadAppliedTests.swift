import Foundation
import MeterCore
import MeterEngine
import XCTest

/// `readApplied` (CheckEntitlement's read) is answered from the applied state as soon as the
/// writer takes it, not behind the group commit taken with it. The log's fdatasync is held on a
/// semaphore, so the test is deterministic: had the read waited for the group queued with it,
/// it could only be answered after that group's held sync, and the test would fail on its
/// deadline.
final class ReadAppliedTests: XCTestCase {
    final class Box: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var value: ExactDecimal?
    }

    func testAReadOfTheAppliedStateDoesNotWaitForTheGroupTakenWithIt() async throws {
        let directory = DataDirectory(self)
        let gate = HookGate()
        var configured = options(directory)
        configured.beforeLogSync = { gate.hold() }
        let engine = try MeterEngine.open(options: configured)
        _ = try await engine.createMeter(tokensMeter)
        _ = try await engine.ingest(events: [usageEvent("first", tokens: 1)])

        gate.arm(2)
        let acknowledged = DispatchSemaphore(value: 0)
        engine.ingest(events: [usageEvent("second", tokens: 2)]) { _ in acknowledged.signal() }
        let firstHeld = await Task.detached { gate.reached.wait(timeout: .now() + 10) }.value
        XCTAssertEqual(firstHeld, .success, "the second ingest's sync was not reached")

        // The writer is held in that sync: the third ingest and the read queue up behind it and
        // will be taken together.
        engine.ingest(events: [usageEvent("third", tokens: 4)]) { _ in acknowledged.signal() }
        let box = Box()
        engine.readApplied(completion: { machine in
            let hour: Int64 = 3_600_000
            let query = UsageQuery(meter: .eventName("tokens_used"), fromMilliseconds: (engineStart - 48 * hour) / hour * hour,
                                   toMilliseconds: ((engineStart + hour) / hour + 1) * hour)
            box.value = try? machine.usage(query).rows.first?.value
            box.done.signal()
        })
        gate.release.signal()

        // The third ingest's sync is held now; the read must have been answered without it.
        let secondHeld = await Task.detached { gate.reached.wait(timeout: .now() + 10) }.value
        XCTAssertEqual(secondHeld, .success, "the third ingest's sync was not reached")
        let answered = await Task.detached { box.done.wait(timeout: .now() + 10) }.value
        XCTAssertEqual(answered, .success, "the read waited for the group taken with it")
        XCTAssertEqual(box.value, ExactDecimal(3), "first and second (acknowledged) are in it, third (being synced) is not")

        gate.release.signal()
        for _ in 0..<2 {
            let result = await Task.detached { acknowledged.wait(timeout: .now() + 10) }.value
            XCTAssertEqual(result, .success)
        }
        let usage = try await total(engine)
        XCTAssertEqual(usage, ExactDecimal(7))
        await engine.shutdown()
    }
}
