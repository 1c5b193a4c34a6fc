import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

final class EventRoutesTests: XCTestCase {
    static let cumulativeSum = #"{"eventName": "bytes_stored", "displayName": "Bytes", "aggregation": "SUM", "valueProperty": "amount", "reset": "CUMULATIVE"}"#

    static func event(_ id: String, customer: String, data: String, type: String = "bytes_stored") -> String {
        #"{"specversion": "1.0", "id": "\#(id)", "source": "test", "type": "\#(type)", "subject": "\#(customer)", "time": "2026-11-25T18:10:00Z", "data": \#(data)}"#
    }

    /// JSON numbers in `data` must arrive exactly: each of these changes if it passes through a Double.
    func testNumbersInDataArriveExactly() async throws {
        let server = try HTTPTestServer(testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: Self.cumulativeSum))
            let values = ["a": "0.1", "b": "123456789012345678.000000001", "c": "1e-7"]
            for (customer, number) in values.sorted(by: { $0.key < $1.key }) {
                try await client.execute(uri: "/api/v1/events", method: .post, headers: singleEventHeaders,
                                         body: ByteBuffer(string: Self.event("evt-\(customer)", customer: customer, data: #"{"amount": \#(number)}"#))) { response in
                    XCTAssertEqual(response.status, .ok, response.text)
                    XCTAssertEqual(response.json["status"] as? String, "ACCEPTED")
                    XCTAssertEqual(response.json["outcome"] as? String, "COUNTED")
                }
            }
            let expected = ["a": "0.1", "b": "123456789012345678.000000001", "c": "0.0000001"]
            for (customer, value) in expected {
                try await client.execute(uri: "/api/v1/meters/bytes_stored/query?from=2026-11-25T18:00:00Z&to=2026-11-25T19:00:00Z&subject=\(customer)", method: .get) { response in
                    XCTAssertEqual(response.status, .ok, response.text)
                    XCTAssertTrue(response.text.contains(#""value":"\#(value)""#), response.text)
                }
            }
            try await client.execute(uri: "/api/v1/meters/bytes_stored/query?from=2026-11-25T18:00:00Z&to=2026-11-25T19:00:00Z", method: .get) { response in
                XCTAssertTrue(response.text.contains(#""value":"123456789012345678.100000101""#), response.text)
                XCTAssertTrue(response.text.contains(#""eventCount":3"#), response.text)
            }
        }
    }

    func testBatchAnswersEachEventInOrder() async throws {
        let server = try HTTPTestServer(testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/meters", method: .post, headers: jsonHeaders, body: ByteBuffer(string: guideMeter))
            let batch = "[" + [
                Self.event("evt-1", customer: "acme", data: #"{"model": "llama3.1", "tokens": 1250}"#, type: "tokens_used"),
                Self.event("evt-2", customer: "acme", data: #"{"model": "alpaca2.0", "tokens": 999}"#, type: "tokens_used"),
                #"{"specversion": "1.0", "id": "evt-3", "source": "test", "type": "tokens_used", "subject": "acme", "time": "yesterday", "data": {}}"#,
                Self.event("evt-1", customer: "acme", data: #"{"model": "llama3.1", "tokens": 1250}"#, type: "tokens_used"),
                Self.event("evt-4", customer: "acme", data: #"{"model": "llama3.2", "tokens": 25.5}"#, type: "tokens_used"),
            ].joined(separator: ",") + "]"
            try await client.execute(uri: "/api/v1/events", method: .post, headers: batchHeaders, body: ByteBuffer(string: batch)) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                let results = response.json["results"] as? [[String: Any]] ?? []
                XCTAssertEqual(results.map { $0["status"] as? String }, ["ACCEPTED", "ACCEPTED", "REJECTED", "DUPLICATE", "ACCEPTED"])
                XCTAssertEqual(results.map { $0["outcome"] as? String }, ["COUNTED", "FILTERED_OUT", nil, nil, "COUNTED"])
                XCTAssertEqual(results[2]["reason"] as? String, "INVALID_TIMESTAMP")
                XCTAssertEqual(results.map { $0["id"] as? String }, ["evt-1", "evt-2", "evt-3", "evt-1", "evt-4"])
                XCTAssertEqual(response.json["accepted"] as? Int, 3)
                XCTAssertEqual(response.json["duplicates"] as? Int, 1)
                XCTAssertEqual(response.json["rejected"] as? Int, 1)
            }
            try await client.execute(uri: "/api/v1/meters/tokens_used/query?from=2026-11-25T17:00:00Z&to=2026-11-25T19:00:00Z&windowSize=HOUR&groupBy=model&groupBy=subject&filterGroupBy%5Bmodel%5D=llama3.1",
                                     method: .get) { response in
                XCTAssertEqual(response.status, .badRequest, "tokens_used has no group-by keys: \(response.text)")
                XCTAssertEqual(response.json["reason"] as? String, "INVALID_QUERY")
            }
            try await client.execute(uri: "/api/v1/meters/tokens_used/query?from=2026-11-25T17:00:00Z&to=2026-11-25T19:00:00Z&windowSize=HOUR&groupBy=subject",
                                     method: .get) { response in
                XCTAssertEqual(response.status, .ok, response.text)
                let rows = response.json["data"] as? [[String: Any]] ?? []
                XCTAssertEqual(rows.map { $0["windowStart"] as? String }, ["2026-11-25T17:00:00Z", "2026-11-25T18:00:00Z"])
                XCTAssertEqual(rows.map { $0["subject"] as? String }, ["acme", "acme"])
                XCTAssertEqual(rows.last?["value"] as? String, "1275.5")
            }
        }
        let recent = server.environment.recentEvents.entries(tenantId: "default")
        XCTAssertEqual(recent.map(\.eventId), ["evt-4", "evt-1", "evt-3", "evt-2", "evt-1"], "the debugger's ring holds the batch, newest first")
    }

    func testSingleRejectedEventAndWrongShapesAreProblems() async throws {
        let server = try HTTPTestServer(testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/events", method: .post, headers: singleEventHeaders,
                                     body: ByteBuffer(string: Self.event("", customer: "acme", data: "{}"))) { response in
                XCTAssertEqual(response.status, .badRequest)
                XCTAssertEqual(response.headers[.contentType], "application/problem+json")
                XCTAssertEqual(response.json["reason"] as? String, "INVALID_EVENT_ID", response.text)
            }
            try await client.execute(uri: "/api/v1/events", method: .post, headers: singleEventHeaders, body: ByteBuffer(string: "[]")) { response in
                XCTAssertEqual(response.status, .badRequest)
                XCTAssertEqual(response.json["code"] as? String, "INVALID_ARGUMENT")
            }
            try await client.execute(uri: "/api/v1/events", method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: "{}")) { response in
                XCTAssertEqual(response.status, .badRequest)
                XCTAssertTrue((response.json["detail"] as? String ?? "").hasPrefix("Content-Type must be"), response.text)
            }
        }
    }

    func testBodyLargerThanTheLimitIs413AndChangesNothing() async throws {
        let server = try HTTPTestServer(maximumBodyBytes: 1024, testCase: self)
        let padding = String(repeating: "x", count: 2000)
        try await server.run { client in
            try await client.execute(uri: "/api/v1/events", method: .post, headers: singleEventHeaders,
                                     body: ByteBuffer(string: Self.event("evt-big", customer: "acme", data: #"{"note": "\#(padding)"}"#))) { response in
                XCTAssertEqual(response.status, .contentTooLarge)
                XCTAssertEqual(response.json["code"] as? String, "RESOURCE_EXHAUSTED")
            }
        }
        XCTAssertTrue(server.environment.recentEvents.entries(tenantId: "default").isEmpty)
    }
}
