import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

final class MeterRoutesTests: XCTestCase {
    func testCreateGetListUpdateArchive() async throws {
        let server = try HTTPTestServer(testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: guideMeter)) { response in
                XCTAssertEqual(response.status, .created, response.text)
                XCTAssertEqual(response.headers[.location], "/api/v1/meters/mtr_1")
                XCTAssertEqual(response.json["eventName"] as? String, "tokens_used")
                XCTAssertEqual(response.json["status"] as? String, "ACTIVE")
                XCTAssertEqual(response.json["billingPeriod"] as? String, "MONTHLY")
            }
            try await client.execute(uri: "/api/v1/meters/tokens_used", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.json["id"] as? String, "mtr_1")
            }
            try await client.execute(uri: "/api/v1/meters", method: .get) { response in
                XCTAssertEqual((response.json["items"] as? [[String: Any]])?.count, 1)
            }
            try await client.execute(uri: "/api/v1/meters/mtr_1", method: .patch, headers: jsonHeaders,
                                     body: ByteBuffer(string: #"{"displayName": "LLM tokens"}"#)) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertEqual(response.json["displayName"] as? String, "LLM tokens")
            }
            try await client.execute(uri: "/api/v1/meters/mtr_1", method: .patch, headers: jsonHeaders,
                                     body: ByteBuffer(string: #"{"filters": []}"#)) { response in
                XCTAssertEqual(response.status, .badRequest)
                XCTAssertEqual(response.json["reason"] as? String, "IMMUTABLE_FIELD")
                XCTAssertEqual(response.json["code"] as? String, "FAILED_PRECONDITION")
            }
            try await client.execute(uri: "/api/v1/meters/tokens_used", method: .delete) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.json["status"] as? String, "ARCHIVED")
            }
        }
    }

    /// The binary protocol's ALREADY_EXISTS reply (proto/testdata/error_response.hex) carries this
    /// exact message and reason; the HTTP API answers the same as problem+json with 409.
    func testDuplicateEventNameIsProblemJSONWithTheBinaryProtocolsMessage() async throws {
        let server = try HTTPTestServer(testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: guideMeter))
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: guideMeter)) { response in
                XCTAssertEqual(response.status, .conflict)
                XCTAssertEqual(response.headers[.contentType], "application/problem+json")
                XCTAssertEqual(response.json["status"] as? Int, 409)
                XCTAssertEqual(response.json["code"] as? String, "ALREADY_EXISTS")
                XCTAssertEqual(response.json["reason"] as? String, "METER_ALREADY_EXISTS")
                XCTAssertEqual(response.json["detail"] as? String, "an active meter already uses event name \"tokens_used\"; archive it first to replace it")
            }
        }
    }

    func testInvalidDefinitionsAreRefusedWithReasons() async throws {
        let server = try HTTPTestServer(testCase: self)
        try await server.run { client in
            let cases: [(String, String)] = [
                (#"{"eventName": "Tokens Used!", "displayName": "x", "aggregation": "COUNT", "reset": "CUMULATIVE"}"#, "INVALID_EVENT_NAME"),
                (#"{"eventName": "a", "displayName": "x", "aggregation": "SUMM", "reset": "CUMULATIVE"}"#, "INVALID_AGGREGATION"),
                (#"{"eventName": "a", "displayName": "x", "aggregation": "COUNT", "reset": "PERIODIC"}"#, "INVALID_RESET"),
                (#"{"eventName": "a", "displayName": "x", "aggregation": "COUNT", "reset": "CUMULATIVE", "filters": [{"key": "model", "values": []}]}"#, "INVALID_FILTER"),
            ]
            for (body, reason) in cases {
                try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: body)) { response in
                    XCTAssertEqual(response.status, .badRequest, body)
                    XCTAssertEqual(response.headers[.contentType], "application/problem+json")
                    XCTAssertEqual(response.json["reason"] as? String, reason, response.text)
                    XCTAssertEqual(response.json["code"] as? String, "INVALID_ARGUMENT")
                }
            }
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: "{nope")) { response in
                XCTAssertEqual(response.status, .badRequest)
                XCTAssertTrue((response.json["detail"] as? String ?? "").hasPrefix("the body is not valid JSON"), response.text)
            }
            try await client.execute(uri: "/api/v1/meters/missing", method: .get) { response in
                XCTAssertEqual(response.status, .notFound)
                XCTAssertEqual(response.json["reason"] as? String, "METER_NOT_FOUND")
            }
        }
    }
}
