import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

final class ConsoleRoutesTests: XCTestCase {
    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    static func form(eventName: String, displayName: String) -> String {
        "event_name=\(eventName)&display_name=\(displayName)&filter_key=model&filter_values=llama3.1%2C+llama3.2&filter_key=&filter_values="
            + "&aggregation=SUM&aggregation_value=tokens&aggregation_type=PERIODIC&period=MONTHLY"
    }

    func testAddMeterShowsTheServersMessagesNextToTheField() async throws {
        let server = try HTTPTestServer(testCase: self)
        try await server.run { client in
            try await client.execute(uri: "/console/meters", method: .post, headers: Self.formHeaders,
                                     body: ByteBuffer(string: Self.form(eventName: "tokens_used", displayName: "Tokens+Used"))) { response in
                XCTAssertEqual(response.status, .seeOther, response.text)
                XCTAssertEqual(response.headers[.location], "/console/meters/mtr_1?created=1")
            }
            try await client.execute(uri: "/console/meters", method: .post, headers: Self.formHeaders,
                                     body: ByteBuffer(string: Self.form(eventName: "tokens_used", displayName: "Again"))) { response in
                XCTAssertEqual(response.status, .unprocessableContent)
                XCTAssertTrue(response.text.contains(#"<p class="field-error" id="error-event_name" role="alert">an active meter already uses event name &quot;tokens_used&quot;; archive it first to replace it</p>"#), response.text)
                XCTAssertTrue(response.text.contains(#"value="Again""#), "the typed values are kept")
            }
            try await client.execute(uri: "/console/meters", method: .post, headers: Self.formHeaders,
                                     body: ByteBuffer(string: Self.form(eventName: "Tokens+Used%3Cb%3E", displayName: "x"))) { response in
                XCTAssertEqual(response.status, .unprocessableContent)
                XCTAssertTrue(response.text.contains(#"id="error-event_name""#), response.text)
                XCTAssertTrue(response.text.contains("Tokens Used&lt;b&gt;"), "the typed name is escaped")
                XCTAssertFalse(response.text.contains("Used<b>"))
            }
            try await client.execute(uri: "/console/meters/mtr_1?created=1", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertTrue(response.text.contains(#"<span class="status active">Active</span>"#))
                XCTAssertTrue(response.text.contains("<svg id=\"usage-chart\""))
            }
        }
    }
}
