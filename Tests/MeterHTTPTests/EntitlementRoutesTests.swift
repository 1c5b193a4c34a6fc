import Foundation
import Hummingbird
import HummingbirdTesting
import MeterCore
import MeterEngine
import XCTest

/// The entitlement value, entitlement list and notification routes over a real socket.
final class EntitlementRoutesTests: XCTestCase {
    private static func event(_ id: String, tokens: Int) -> String {
        """
        {"specversion": "1.0", "id": "\(id)", "source": "test", "type": "tokens_used", "subject": "acme",
         "time": "2026-11-25T18:00:00Z", "data": {"model": "llama3.1", "tokens": \(tokens)}}
        """
    }

    /// `POST /api/v1/events?entitlement_effects=true`: each accepted result carries the
    /// entitlement right after its event; without the parameter none does.
    func testIngestReportsEntitlementEffectsWhenAsked() async throws {
        let server = try HTTPTestServer(testCase: self)
        let engine = server.engine
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: guideMeter))
            _ = try await engine.change(.setEntitlement(tenantId: Tenant.defaultId, meter: .eventName("tokens_used"), customerId: "acme",
                                                        limit: ExactDecimal(100), enforcement: .hard, actor: .bootstrap)).entitlement
            let batch = "[" + [Self.event("x1", tokens: 60), Self.event("x2", tokens: 40), Self.event("x3", tokens: 1)].joined(separator: ",") + "]"
            try await client.execute(uri: "/api/v1/events?entitlement_effects=true", method: .post, headers: batchHeaders, body: ByteBuffer(string: batch)) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                let results = response.json["results"] as? [[String: Any]] ?? []
                let effects = results.map { $0["entitlement"] as? [String: Any] ?? [:] }
                XCTAssertEqual(effects.count, 3)
                XCTAssertEqual(effects.map { $0["usage"] as? String }, ["60", "100", "101"])
                XCTAssertEqual(effects.map { $0["crossed"] as? Bool }, [false, true, false])
                XCTAssertEqual(effects.map { $0["hasAccess"] as? Bool }, [true, false, false])
                XCTAssertEqual(effects[1]["remaining"] as? String, "0")
                XCTAssertEqual(effects[1]["limit"] as? String, "100")
            }
            try await client.execute(uri: "/api/v1/events", method: .post, headers: singleEventHeaders, body: ByteBuffer(string: Self.event("x4", tokens: 1))) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertNil(response.json["entitlement"], "not asked for")
            }
            try await client.execute(uri: "/api/v1/events?entitlement_effects=true", method: .post, headers: singleEventHeaders, body: ByteBuffer(string: Self.event("x5", tokens: 1))) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertEqual((response.json["entitlement"] as? [String: Any])?["usage"] as? String, "103")
            }
            for query in ["entitlement_effects=yes", "effects=true"] {
                try await client.execute(uri: "/api/v1/events?\(query)", method: .post, headers: singleEventHeaders, body: ByteBuffer(string: Self.event("x6", tokens: 1))) { response in
                    XCTAssertEqual(response.status, .badRequest, query)
                }
            }
        }
    }

    func testValueListAndNotifications() async throws {
        let server = try HTTPTestServer(testCase: self)
        let engine = server.engine
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: guideMeter))
            try await client.execute(uri: "/api/v1/subjects/acme/entitlements/tokens_used/value", method: .get) { response in
                XCTAssertEqual(response.status, .notFound, response.text)
                XCTAssertEqual(response.json["reason"] as? String, "ENTITLEMENT_NOT_FOUND")
            }
            _ = try await engine.change(.setEntitlement(tenantId: Tenant.defaultId, meter: .eventName("tokens_used"), customerId: nil,
                                                        limit: ExactDecimal(100), enforcement: .hard, actor: .bootstrap)).entitlement
            _ = try await engine.change(.addThresholdRule(tenantId: Tenant.defaultId, meter: .eventName("tokens_used"), customerId: nil,
                                                          level: .percentOfEntitlement(ExactDecimal(50)), actor: .bootstrap)).thresholdRule
            try await client.execute(uri: "/api/v1/events", method: .post, headers: singleEventHeaders, body: ByteBuffer(string: Self.event("h1", tokens: 60))) { response in
                XCTAssertEqual(response.status, .ok, response.text)
            }
            try await client.execute(uri: "/api/v1/subjects/acme/entitlements/tokens_used/value", method: .get) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertEqual(response.json["hasAccess"] as? Bool, true)
                XCTAssertEqual(response.json["usage"] as? String, "60")
                XCTAssertEqual(response.json["balance"] as? String, "40")
                XCTAssertEqual(response.json["isDefault"] as? Bool, true)
                XCTAssertEqual(response.json["periodStart"] as? String, "2026-11-01T00:00:00Z")
            }
            try await client.execute(uri: "/api/v1/subjects/acme/entitlements/tokens_used/value?time=2026-12-02T00:00:00Z", method: .get) { response in
                XCTAssertEqual(response.json["usage"] as? String, "0", "the next billing period")
            }
            try await client.execute(uri: "/api/v1/subjects/acme/entitlements/tokens_used/value?when=now", method: .get) { response in
                XCTAssertEqual(response.status, .badRequest)
            }
            try await client.execute(uri: "/api/v1/entitlements", method: .get) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                let entitlements = response.json["entitlements"] as? [[String: Any]] ?? []
                XCTAssertEqual(entitlements.first?["limit"] as? String, "100")
                XCTAssertTrue(entitlements.first?["subject"] is NSNull)
            }
            try await client.execute(uri: "/api/v1/notifications?after=0", method: .get) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                let notifications = response.json["notifications"] as? [[String: Any]] ?? []
                XCTAssertEqual(notifications.count, 1)
                XCTAssertEqual(notifications.first?["threshold"] as? String, "50")
                XCTAssertEqual(notifications.first?["usage"] as? String, "60")
                XCTAssertEqual(response.json["lastNumber"] as? Int, 1)
            }
            try await client.execute(uri: "/api/v1/notifications?after=1&waitMs=50", method: .get) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertEqual((response.json["notifications"] as? [Any])?.count, 0)
                XCTAssertEqual(response.json["lastNumber"] as? Int, 1)
            }
            try await client.execute(uri: "/api/v1/notifications?waitMs=2001", method: .get) { response in
                XCTAssertEqual(response.status, .badRequest)
            }
            try await client.execute(uri: "/api/v1/webhooks", method: .get) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertEqual(response.json["enabled"] as? Bool, false)
                XCTAssertEqual(response.json["lastNotificationNumber"] as? Int, 1)
            }
        }
    }
}
