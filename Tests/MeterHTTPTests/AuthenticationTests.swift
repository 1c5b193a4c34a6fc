import Foundation
import Hummingbird
import HummingbirdTesting
import MeterHTTP
import XCTest

final class AuthenticationTests: XCTestCase {
    static let verifier = StaticKeyVerifier(keys: [
        "admin-secret": HTTPPrincipal(tenantId: "acme", role: .admin, name: "key_1"),
        "ingest-secret": HTTPPrincipal(tenantId: "acme", role: .ingest, name: "key_2"),
        "other-tenant": HTTPPrincipal(tenantId: "globex", role: .admin, name: "key_3"),
    ])

    func testBearerKeysDecideTenantAndRole() async throws {
        let server = try HTTPTestServer(verifier: Self.verifier, testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .get) { response in
                XCTAssertEqual(response.status, .unauthorized)
                XCTAssertEqual(response.headers[.wwwAuthenticate], "Bearer realm=\"meterd\"")
                XCTAssertEqual(response.json["code"] as? String, "UNAUTHENTICATED")
            }
            try await client.execute(uri: "/api/v1/meters", method: .get, headers: [.authorization: "Bearer wrong"]) { response in
                XCTAssertEqual(response.status, .unauthorized)
            }
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: [.authorization: "Bearer ingest-secret", .contentType: "application/json"],
                                     body: ByteBuffer(string: guideMeter)) { response in
                XCTAssertEqual(response.status, .forbidden)
                XCTAssertEqual(response.json["code"] as? String, "PERMISSION_DENIED")
            }
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: [.authorization: "Bearer admin-secret", .contentType: "application/json"],
                                     body: ByteBuffer(string: guideMeter)) { response in
                XCTAssertEqual(response.status, .created, response.text)
            }
            try await client.execute(uri: "/api/v1/meters/tokens_used", method: .get, headers: [.authorization: "Bearer other-tenant"]) { response in
                XCTAssertEqual(response.status, .notFound, "another tenant's key does not see acme's meter")
            }
            try await client.execute(uri: "/console", method: .get) { response in
                XCTAssertEqual(response.status, .seeOther)
                XCTAssertEqual(response.headers[.location], "/console/sign-in")
            }
            try await client.execute(uri: "/console", method: .get, headers: [.cookie: "meterd_key=admin-secret"]) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertTrue(response.text.contains("tokens_used"))
            }
        }
    }

    /// A refused key waits the refusal delay before its 401, as a refused handshake does.
    func testRefusedKeyWaitsTheRefusalDelay() async throws {
        let server = try HTTPTestServer(verifier: Self.verifier, refusalDelay: .milliseconds(300), testCase: self)
        try await server.run { client in
            let start = ContinuousClock.now
            try await client.execute(uri: "/api/v1/meters", method: .get, headers: [.authorization: "Bearer wrong"]) { response in
                XCTAssertEqual(response.status, .unauthorized)
            }
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(300))
        }
    }
}
