import Foundation
import Hummingbird
import HummingbirdTesting
import MeterCore
import MeterHTTP
import MeterServer
import XCTest

final class KeyStoreVerifierTests: XCTestCase {
    static func key(_ id: String, tenant: String, role: KeyRole, secret: String) -> ApiKey {
        ApiKey(id: id, definition: ApiKeyDefinition(tenantId: tenant, name: "test \(id)", role: role, secretHash: ApiKeySecret.hash(secret)),
               createdAtMilliseconds: 0, createdBy: .bootstrap)
    }

    /// The HTTP listener checks bearer secrets against the wire server's key store: tenant and
    /// role come from the key, a revocation recorded in the store holds for the next request.
    func testKeysFromTheStoreDecideTenantRoleAndRevocation() async throws {
        let admin = ApiKeySecret.generate()
        let ingest = ApiKeySecret.generate()
        let keys = KeyStore(keys: [Self.key("key_1", tenant: "acme", role: .admin, secret: admin),
                                   Self.key("key_2", tenant: "acme", role: .ingest, secret: ingest)])
        let server = try HTTPTestServer(verifier: KeyStoreVerifier(keys: keys), testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: [.authorization: "Bearer \(admin)", .contentType: "application/json"],
                                     body: ByteBuffer(string: guideMeter)) { response in
                XCTAssertEqual(response.status, .created, response.text)
            }
            try await client.execute(uri: "/api/v1/meters", method: .get, headers: [.authorization: "Bearer \(ingest)"]) { response in
                XCTAssertEqual(response.status, .forbidden, "an ingest key cannot read meters")
            }
            try await client.execute(uri: "/api/v1/meters", method: .get) { response in
                XCTAssertEqual(response.status, .unauthorized, "no anonymous access with keys")
            }
            var revoked = Self.key("key_1", tenant: "acme", role: .admin, secret: admin)
            revoked.revokedAtMilliseconds = 1
            keys.update(revoked)
            try await client.execute(uri: "/api/v1/meters", method: .get, headers: [.authorization: "Bearer \(admin)"]) { response in
                XCTAssertEqual(response.status, .unauthorized, "a revoked key stops working at once")
            }
        }
        let audit = try await server.engine.read { machine in machine.auditEntries(AuditQuery(tenantId: "acme")) }
        XCTAssertEqual(audit.first?.actor, .apiKey(id: "key_1"), "the meter creation is audited as the key")
    }
}
