import Foundation
import Hummingbird
import HummingbirdTesting
import MeterCore
import MeterEngine
import XCTest

/// Setting and removing entitlements, grants and threshold rules over HTTP, checked through the
/// engine and the check route.
final class EntitlementChangeRoutesTests: XCTestCase {
    private static func event(_ id: String, tokens: Int) -> String {
        """
        {"specversion": "1.0", "id": "\(id)", "source": "test", "type": "tokens_used", "subject": "acme",
         "time": "2026-11-25T18:00:00Z", "data": {"model": "llama3.1", "tokens": \(tokens)}}
        """
    }

    func testAdminsSetEntitlementsGrantsAndThresholdsOverHTTP() async throws {
        let server = try HTTPTestServer(testCase: self)
        let engine = server.engine
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: guideMeter))
            try await client.execute(uri: "/api/v1/entitlements", method: .put, headers: jsonHeaders,
                                     body: ByteBuffer(string: #"{"meter": "tokens_used", "subject": "acme", "limit": "100.5", "enforcement": "HARD"}"#)) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertEqual(response.json["limit"] as? String, "100.5")
                XCTAssertEqual(response.json["subject"] as? String, "acme")
            }
            try await client.execute(uri: "/api/v1/entitlements", method: .put, headers: jsonHeaders,
                                     body: ByteBuffer(string: #"{"meter": "tokens_used", "limit": 0.1e1, "enforcement": "LOOSE"}"#)) { response in
                XCTAssertEqual(response.status, .badRequest, response.text)
            }
            try await client.execute(uri: "/api/v1/entitlements", method: .put, headers: jsonHeaders,
                                     body: ByteBuffer(string: #"{"meter": "tokens_used", "limit": "1.0000000001"}"#)) { response in
                XCTAssertEqual(response.status, .badRequest, "ten fractional digits: \(response.text)")
            }
            var grantId = ""
            try await client.execute(uri: "/api/v1/grants", method: .post, headers: jsonHeaders,
                                     body: ByteBuffer(string: #"{"meter": "tokens_used", "subject": "acme", "amount": 50, "effectiveFrom": "2026-11-01T00:00:00Z"}"#)) { response in
                XCTAssertEqual(response.status, .created, response.text)
                XCTAssertEqual(response.json["amount"] as? String, "50")
                grantId = response.json["id"] as? String ?? ""
            }
            var ruleId = ""
            try await client.execute(uri: "/api/v1/thresholds", method: .post, headers: jsonHeaders,
                                     body: ByteBuffer(string: #"{"meter": "tokens_used", "percent": "50"}"#)) { response in
                XCTAssertEqual(response.status, .created, response.text)
                XCTAssertEqual(response.json["percent"] as? String, "50")
                ruleId = response.json["id"] as? String ?? ""
            }
            try await client.execute(uri: "/api/v1/thresholds", method: .post, headers: jsonHeaders,
                                     body: ByteBuffer(string: #"{"meter": "tokens_used", "percent": "50", "value": "3"}"#)) { response in
                XCTAssertEqual(response.status, .badRequest, response.text)
            }
            // 100.5 + 50 granted = 150.5; 80 tokens is past 50% of it (75.25).
            try await client.execute(uri: "/api/v1/events", method: .post, headers: singleEventHeaders, body: ByteBuffer(string: Self.event("c1", tokens: 80))) { response in
                XCTAssertEqual(response.status, .ok, response.text)
            }
            try await client.execute(uri: "/api/v1/subjects/acme/entitlements/tokens_used/value", method: .get) { response in
                XCTAssertEqual(response.json["balance"] as? String, "70.5", response.text)
            }
            try await client.execute(uri: "/api/v1/notifications?after=0", method: .get) { response in
                let notifications = response.json["notifications"] as? [[String: Any]] ?? []
                XCTAssertEqual(notifications.first?["threshold"] as? String, "75.25", response.text)
            }
            try await client.execute(uri: "/api/v1/thresholds", method: .get) { response in
                let items = response.json["items"] as? [[String: Any]] ?? []
                XCTAssertEqual(items.compactMap { $0["id"] as? String }, [ruleId])
            }
            try await client.execute(uri: "/api/v1/grants/\(grantId)", method: .delete) { response in
                XCTAssertEqual(response.status, .ok, response.text)
            }
            try await client.execute(uri: "/api/v1/thresholds/\(ruleId)", method: .delete) { response in
                XCTAssertEqual(response.status, .ok, response.text)
            }
            try await client.execute(uri: "/api/v1/grants/grt_404", method: .delete) { response in
                XCTAssertEqual(response.status, .notFound, response.text)
            }
            try await client.execute(uri: "/api/v1/entitlements?meter=tokens_used&subject=acme", method: .delete) { response in
                XCTAssertEqual(response.status, .ok, response.text)
            }
        }
        let left = try await engine.read { machine in
            (machine.entitlements(tenantId: Tenant.defaultId).count, machine.grants(tenantId: Tenant.defaultId).count,
             machine.thresholdRules(tenantId: Tenant.defaultId).count)
        }
        XCTAssertTrue(left == (0, 0, 0), "everything removed: \(left)")
    }

    func testOnlyAdminsChangeEntitlements() async throws {
        let server = try HTTPTestServer(verifier: AuthenticationTests.verifier, testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/entitlements", method: .put,
                                     headers: [.authorization: "Bearer ingest-secret", .contentType: "application/json"],
                                     body: ByteBuffer(string: #"{"meter": "tokens_used", "limit": "1"}"#)) { response in
                XCTAssertEqual(response.status, .forbidden, response.text)
            }
        }
    }
}
