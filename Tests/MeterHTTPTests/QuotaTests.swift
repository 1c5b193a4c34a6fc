import Foundation
import Hummingbird
import HummingbirdTesting
import MeterServer
import XCTest

final class HTTPQuotaTests: XCTestCase {
    /// The wire server's quotas hold on HTTP too: the meter quota before a create, the events
    /// quota before a batch reaches the engine (429 with the binary protocol's reason).
    func testTenantQuotasAreEnforced() async throws {
        let quotas = TenantQuotas(defaultQuota: TenantQuota(eventsPerSecond: 2, meters: 1))
        let server = try HTTPTestServer(quotas: quotas, testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: guideMeter)) { response in
                XCTAssertEqual(response.status, .created)
            }
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders,
                                     body: ByteBuffer(string: EventRoutesTests.cumulativeSum)) { response in
                XCTAssertEqual(response.status, .tooManyRequests, response.text)
                XCTAssertEqual(response.json["reason"] as? String, "QUOTA_METERS")
            }
            let batch = "[" + (1...20).map { EventRoutesTests.event("evt-\($0)", customer: "acme", data: "{}", type: "tokens_used") }.joined(separator: ",") + "]"
            // The bucket (2 per second) admits a batch while it has tokens and goes 18 into debt: 9 s to refill.
            try await client.execute(uri: "/api/v1/events", method: .post, headers: batchHeaders, body: ByteBuffer(string: batch)) { response in
                XCTAssertEqual(response.status, .ok, response.text)
            }
            let second = "[" + (1...20).map { EventRoutesTests.event("second-\($0)", customer: "acme", data: "{}", type: "tokens_used") }.joined(separator: ",") + "]"
            try await client.execute(uri: "/api/v1/events", method: .post, headers: batchHeaders, body: ByteBuffer(string: second)) { response in
                XCTAssertEqual(response.status, .tooManyRequests, response.text)
                XCTAssertEqual(response.json["reason"] as? String, "QUOTA_EVENTS_PER_SECOND")
            }
        }
        XCTAssertEqual(server.environment.recentEvents.entries(tenantId: "default").map(\.eventId).first, "evt-20", "the refused batch never reached the ring (nor the engine)")
    }
}
