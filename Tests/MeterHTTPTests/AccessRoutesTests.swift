import Foundation
import Hummingbird
import HummingbirdTesting
import MeterCore
import MeterHTTP
import MeterServer
import XCTest

/// `/api/v1/keys` and `/api/v1/audit`, and the console's key form and Revoke button, against
/// the engine's keys and the key store the listeners verify with.
final class AccessRoutesTests: XCTestCase {
    /// An engine with one admin key in tenant acme, and the verifier over the store holding it.
    private func serverWithAdmin() async throws -> (server: HTTPTestServer, secret: String) {
        let secret = ApiKeySecret.generate()
        let keys = KeyStore(keys: [])
        let server = try HTTPTestServer(verifier: KeyStoreVerifier(keys: keys), testCase: self)
        let admin = try await server.engine.createApiKey(
            ApiKeyDefinition(tenantId: "acme", name: "first admin", role: .admin, secretHash: ApiKeySecret.hash(secret)), actor: .bootstrap)
        keys.update(admin)
        return (server, secret)
    }

    func testAdminsCreateListAndRevokeKeysAndReadTheAuditTrail() async throws {
        let (server, admin) = try await serverWithAdmin()
        try await server.run { client in
            let headers: HTTPFields = [.authorization: "Bearer \(admin)", .contentType: "application/json"]
            var created: (id: String, secret: String) = ("", "")
            try await client.execute(uri: "/api/v1/keys", method: .post, headers: headers,
                                     body: ByteBuffer(string: #"{"name": "checkout service", "role": "ingest"}"#)) { response in
                XCTAssertEqual(response.status, .created, response.text)
                let key = response.json["key"] as? [String: Any] ?? [:]
                XCTAssertEqual(key["role"] as? String, "ingest")
                XCTAssertEqual(key["name"] as? String, "checkout service")
                created = (key["id"] as? String ?? "", response.json["secret"] as? String ?? "")
                XCTAssertEqual(response.headers[.location], "/api/v1/keys/\(created.id)")
            }
            XCTAssertTrue(created.secret.hasPrefix("mk_"), created.secret)
            // The new key works at once, with its role: it may send events but not read meters.
            try await client.execute(uri: "/api/v1/meters", method: .get, headers: [.authorization: "Bearer \(created.secret)"]) { response in
                XCTAssertEqual(response.status, .forbidden, response.text)
            }
            try await client.execute(uri: "/api/v1/keys", method: .post, headers: [.authorization: "Bearer \(created.secret)", .contentType: "application/json"],
                                     body: ByteBuffer(string: #"{"name": "escalation", "role": "admin"}"#)) { response in
                XCTAssertEqual(response.status, .forbidden, "an ingest key cannot make keys")
            }
            try await client.execute(uri: "/api/v1/keys", method: .post, headers: headers,
                                     body: ByteBuffer(string: #"{"name": "x", "role": "owner"}"#)) { response in
                XCTAssertEqual(response.status, .badRequest)
                XCTAssertEqual(response.json["reason"] as? String, "INVALID_KEY")
            }
            try await client.execute(uri: "/api/v1/keys", method: .get, headers: headers) { response in
                let items = response.json["items"] as? [[String: Any]] ?? []
                XCTAssertEqual(items.compactMap { $0["name"] as? String }, ["first admin", "checkout service"])
                XCTAssertFalse(response.text.contains(created.secret), "a listing never shows a secret")
            }
            try await client.execute(uri: "/api/v1/keys/\(created.id)", method: .delete, headers: headers) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertNotNil(response.json["revokedAt"] as? String, response.text)
            }
            try await client.execute(uri: "/api/v1/events", method: .post,
                                     headers: [.authorization: "Bearer \(created.secret)", .contentType: "application/cloudevents+json"],
                                     body: ByteBuffer(string: #"{"specversion": "1.0", "id": "e1", "source": "t", "type": "x", "subject": "c"}"#)) { response in
                XCTAssertEqual(response.status, .unauthorized, "a revoked key is refused at the next request")
            }
            try await client.execute(uri: "/api/v1/keys/key_99", method: .delete, headers: headers) { response in
                XCTAssertEqual(response.status, .notFound, response.text)
            }
            try await client.execute(uri: "/api/v1/keys", method: .get, headers: headers) { response in
                let items = response.json["items"] as? [[String: Any]] ?? []
                XCTAssertEqual(items.count, 1, "revoked keys are listed only with includeRevoked=true")
            }
            try await client.execute(uri: "/api/v1/audit?limit=abc", method: .get, headers: headers) { response in
                XCTAssertEqual(response.status, .badRequest)
            }
            try await client.execute(uri: "/api/v1/audit", method: .get, headers: headers) { response in
                let items = response.json["items"] as? [[String: Any]] ?? []
                XCTAssertEqual(items.compactMap { $0["action"] as? String }, ["key.create", "key.create", "key.revoke"])
                XCTAssertEqual(items.last?["targetId"] as? String, created.id)
                XCTAssertEqual(items.last?["actor"] as? String, "key key_1")
            }
        }
    }

    func testTheConsoleCreatesAKeyShowingItsSecretOnceAndRevokesIt() async throws {
        let (server, admin) = try await serverWithAdmin()
        try await server.run { client in
            let cookie: HTTPFields = [.cookie: "meterd_key=\(admin)", .contentType: "application/x-www-form-urlencoded"]
            var secret = ""
            try await client.execute(uri: "/console/keys", method: .post, headers: cookie, body: ByteBuffer(string: "name=reporting&role=read")) { response in
                XCTAssertEqual(response.status, .created, response.text)
                let page = response.text
                let start = try XCTUnwrap(page.range(of: "<code id=\"new-key-secret\">"))
                secret = String(page[start.upperBound...].prefix { $0 != "<" })
                XCTAssertTrue(page.contains("cannot show it again"), page)
            }
            try await client.execute(uri: "/api/v1/meters", method: .get, headers: [.authorization: "Bearer \(secret)"]) { response in
                XCTAssertEqual(response.status, .ok, "the console's new read key reads meters: \(response.text)")
            }
            try await client.execute(uri: "/console/access", method: .get, headers: cookie) { response in
                XCTAssertFalse(response.text.contains(secret), "the secret is shown on the creation page only")
                XCTAssertTrue(response.text.contains("id=\"revoke-key_2\""), response.text)
            }
            try await client.execute(uri: "/console/keys", method: .post, headers: cookie, body: ByteBuffer(string: "name=x&role=owner")) { response in
                XCTAssertEqual(response.status, .unprocessableContent)
                XCTAssertTrue(response.text.contains("Role must be admin, ingest or read."), response.text)
            }
            try await client.execute(uri: "/console/keys/key_2/revoke", method: .post, headers: cookie) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertTrue(response.text.contains("Revoked <code>key_2</code>"), response.text)
            }
            try await client.execute(uri: "/api/v1/meters", method: .get, headers: [.authorization: "Bearer \(secret)"]) { response in
                XCTAssertEqual(response.status, .unauthorized, "revoked from the console")
            }
        }
    }
}
