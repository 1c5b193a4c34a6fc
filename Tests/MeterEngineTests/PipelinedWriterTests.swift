import Foundation
import MeterCore
import MeterEngine
import XCTest

/// The pipelined writer screens group N+1 while group N is being synced. An id accepted in N
/// (not applied yet) must still make its copies in N+1 duplicates, and replies must only
/// come after their group is durable.
final class PipelinedWriterTests: XCTestCase {
    func testCopiesOfAnIdSentConcurrentlyAcrossGroupsAreCountedOnce() async throws {
        let directory = DataDirectory(self)
        let engine = try MeterEngine.open(options: options(directory))
        _ = try await engine.createMeter(tokensMeter)
        let ids = 40, copies = 10
        // Every copy is submitted at once from plain threads (no awaiting in between), so the
        // copies of one id land in different group commits while earlier groups are syncing.
        let results = await withCheckedContinuation { (continuation: CheckedContinuation<[EventResult], Never>) in
            let collector = ResultCollector(expected: ids * copies) { continuation.resume(returning: $0) }
            for _ in 0..<copies {
                for id in 0..<ids {
                    engine.ingest(events: [usageEvent("id-\(id)", customer: "c\(id % 3)", tokens: Int64(id), at: engineStart)]) { result in
                        collector.add(result)
                    }
                }
            }
        }
        let accepted = results.filter { if case .accepted = $0 { return true } else { return false } }.count
        let duplicates = results.filter { $0 == .duplicate }.count
        XCTAssertEqual(accepted, ids)
        XCTAssertEqual(duplicates, ids * (copies - 1))
        let usage = try await total(engine)
        XCTAssertEqual(usage, ExactDecimal(Int64((0..<ids).reduce(0, +))))
        let status = await engine.status()
        XCTAssertEqual(status.groupCommitEvents, UInt64(ids))
        XCTAssertEqual(status.syncs, status.groupCommits, "fsync mode: one sync per group commit")
        await engine.shutdown()

        // The same answer after recovery from the log.
        let reopened = try MeterEngine.open(options: options(directory))
        let recovered = try await total(reopened)
        XCTAssertEqual(recovered, usage)
        await reopened.shutdown()
    }
}

/// Collects ingest results from any thread and hands them over once all arrived.
final class ResultCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [EventResult] = []
    private let expected: Int
    private let done: ([EventResult]) -> Void

    init(expected: Int, done: @escaping ([EventResult]) -> Void) {
        self.expected = expected
        self.done = done
    }

    func add(_ result: Result<[EventResult], EngineError>) {
        lock.lock()
        switch result {
        case .success(let results): collected.append(contentsOf: results)
        case .failure: collected.append(.rejected(MeterError(.invalidEventId, "the request failed")))
        }
        let finished = collected.count == expected ? collected : nil
        lock.unlock()
        if let finished { done(finished) }
    }
}
