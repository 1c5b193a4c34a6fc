// Built with the Cluster trait only (`swift test --traits Cluster`): meterd's cluster mode links libnats.
#if Cluster
import Foundation
import MeterClient
import MeterProto
import XCTest

/// Ingest and usage checks the cluster tests share: batches of tokens_used events retried with
/// the same ids until acknowledged, and every customer's usage polled until it is the expected one.
extension XCTestCase {
    /// Every customer's current usage of tokens_used, polled until it is `expected` (30 s).
    func assertClusterUsage(_ client: MeterClient, _ expected: [String: Int64], customers: [String], file: StaticString = #filePath, line: UInt = #line) async throws {
        for customer in customers {
            let want = expected[customer, default: 0]
            let deadline = Date(timeIntervalSinceNow: 30)
            var got: Int64?
            var answer = ""
            while true {
                do {
                    let row = try await client.currentUsage(MeterClient.reference("tokens_used"), customerId: customer,
                                                            atMilliseconds: Int64(Date().timeIntervalSince1970 * 1000) + 60_000).row
                    got = Int64(row.value.isEmpty ? "0" : row.value)
                    answer = row.value
                } catch {
                    got = nil
                    answer = "\(error)"
                }
                if got == want || Date() >= deadline { break }
                usleep(50_000)
            }
            XCTAssertEqual(got, want, "\(customer): \(answer), expected \(want)", file: file, line: line)
        }
    }

    /// One batch of 20 events over the customers, retried with the same ids until acknowledged.
    func clusterIngest(_ client: MeterClient, round: Int, customers: [String], expected: inout [String: Int64]) async throws {
        var batch: [Meterd_V1_Event] = []
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for index in 0..<20 {
            var event = Meterd_V1_Event()
            event.eventID = "s-\(round)-\(index)"
            event.eventName = "tokens_used"
            event.customerID = customers[(round + index) % customers.count]
            event.timestampMs = now
            var property = Meterd_V1_Property()
            property.key = "tokens"
            property.value.decimalValue = "\(round + 1)"
            event.properties = [property]
            batch.append(event)
        }
        let deadline = Date(timeIntervalSinceNow: 60)
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try await client.ingestBatch(batch, timeout: .seconds(30))
                for (index, result) in response.results.enumerated() {
                    XCTAssertTrue(result.status == .accepted || (attempt > 1 && result.status == .duplicate),
                                  "round \(round) event \(index): \(result.status) \(result.message)")
                }
                break
            } catch {
                guard Date() < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        for event in batch { expected[event.customerID, default: 0] += Int64(round + 1) }
    }
}
#endif
