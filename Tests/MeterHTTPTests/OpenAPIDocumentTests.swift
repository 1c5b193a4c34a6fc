import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

final class OpenAPIDocumentTests: XCTestCase {
    /// The served document is docs/openapi.json byte for byte (scripts/generate-openapi.py writes both).
    func testServedDocumentIsTheCommittedOne() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let committed = try String(contentsOf: root.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
        let server = try HTTPTestServer(testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/api/openapi.json", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.headers[.contentType], "application/json")
                XCTAssertEqual(response.text, committed)
                XCTAssertEqual(response.json["openapi"] as? String, "3.1.0")
            }
        }
    }
}
