import Foundation
import MeterCore
import MeterEngine
import XCTest

/// The engine enforces customers-per-meter quotas when it screens a request: per event, the
/// rest of the batch is kept, and the decision is never made again on replay.
final class CardinalityQuotaEngineTests: XCTestCase {
    private func quotaOptions(_ directory: DataDirectory, customersPerMeter: Int) -> EngineOptions {
        var engineOptions = options(directory)
        engineOptions.core.quotas = CardinalityQuotas(defaultQuota: CardinalityQuota(customersPerMeter: customersPerMeter))
        return engineOptions
    }

    private func rejections(_ results: [EventResult]) -> [String] {
        results.compactMap { if case .rejected(let error) = $0 { return error.code.name } else { return nil } }
    }

    func testEventsOfCustomersBeyondTheQuotaAreRejectedAloneAndReplayKeepsTheDecision() async throws {
        let directory = DataDirectory(self)
        let engine = try MeterEngine.open(options: quotaOptions(directory, customersPerMeter: 3))
        _ = try await engine.createMeter(tokensMeter)
        let events = (0..<5).map { usageEvent("e\($0)", customer: "c\($0)", tokens: 10) } + [usageEvent("e5", customer: "c0", tokens: 1)]
        let results = try await engine.ingest(events: events)
        XCTAssertEqual(rejections(results), ["QUOTA_CUSTOMERS_PER_METER", "QUOTA_CUSTOMERS_PER_METER"])
        XCTAssertEqual(results.filter { if case .accepted = $0 { return true } else { return false } }.count, 4)
        let usage = try await total(engine)
        XCTAssertEqual(usage, ExactDecimal(31))
        let before = try await stateBytes(engine)
        await engine.shutdown()

        // Reopened without any quota: replay applies what the log holds and decides nothing
        // again, so the state is the same bytes; the refused events were never written and
        // their ids were never taken, so they are accepted now.
        let reopened = try MeterEngine.open(options: quotaOptions(directory, customersPerMeter: 0))
        let after = try await stateBytes(reopened)
        XCTAssertEqual(after, before)
        let resent = try await reopened.ingest(events: Array(events[3...4]))
        XCTAssertEqual(resent.filter { if case .accepted = $0 { return true } else { return false } }.count, 2)
        let resentUsage = try await total(reopened)
        XCTAssertEqual(resentUsage, ExactDecimal(51))
        await reopened.shutdown()
    }

    func testConcurrentRequestsAcrossGroupCommitsNeverExceedTheQuota() async throws {
        let directory = DataDirectory(self)
        let engine = try MeterEngine.open(options: quotaOptions(directory, customersPerMeter: 7))
        _ = try await engine.createMeter(tokensMeter)
        // 60 single-event requests of 60 customers at once: they land in several group commits,
        // screened while earlier ones sync (the ledger carries their new customers).
        let requests = 60
        let results = await withCheckedContinuation { (continuation: CheckedContinuation<[EventResult], Never>) in
            let collector = ResultCollector(expected: requests) { continuation.resume(returning: $0) }
            for number in 0..<requests {
                engine.ingest(events: [usageEvent("id-\(number)", customer: "c\(number)", tokens: 1)]) { collector.add($0) }
            }
        }
        XCTAssertEqual(results.filter { if case .accepted = $0 { return true } else { return false } }.count, 7)
        XCTAssertEqual(rejections(results).count, requests - 7)
        XCTAssertEqual(Set(rejections(results)), ["QUOTA_CUSTOMERS_PER_METER"])
        let usage = try await total(engine)
        XCTAssertEqual(usage, ExactDecimal(7))
        await engine.shutdown()
    }
}
