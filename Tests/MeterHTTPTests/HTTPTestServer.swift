import Foundation
import Hummingbird
import HummingbirdTesting
import MeterCore
import MeterEngine
import MeterHTTP
import MeterServer
import MeterTestSupport
import XCTest

/// An engine in a temporary directory behind the HTTP routes, served over a real socket
/// (HummingbirdTesting's `.live` framework binds 127.0.0.1 and connects with a real client).
struct HTTPTestServer {
    let engine: MeterEngine
    let environment: MeterHTTPEnvironment
    let directory: TemporaryDirectory
    /// The test clock's time: 2026-11-25T18:30:00Z.
    static let now: Int64 = 1_795_631_400_000

    init(verifier: any BearerVerifier = OpenAccessVerifier(), maximumBodyBytes: Int = 16 * 1024 * 1024, quotas: TenantQuotas? = nil,
         refusalDelay: Duration = .zero, testCase: XCTestCase) throws {
        directory = try TemporaryDirectory("meterd-http-test")
        var options = EngineOptions(dataDirectory: directory.path)
        options.clock = { HTTPTestServer.now }
        engine = try MeterEngine.open(options: options)
        var environment = MeterHTTPEnvironment(engine: engine, verifier: verifier, recentEvents: RecentEventLog(capacity: 8),
                                          maximumBodyBytes: maximumBodyBytes, quotas: quotas)
        environment.refusalDelay = refusalDelay
        self.environment = environment
        let directory = directory
        let engine = engine
        testCase.addTeardownBlock {
            await engine.shutdown()
            directory.remove()
        }
    }

    /// Runs `body` against the routes served on a real socket.
    func run(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let application = Application(router: MeterHTTPService.router(environment: environment))
        try await application.test(.live) { client in try await body(client) }
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The body as a JSON object (tests only read what the server wrote; numbers arrive as strings).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }
}

let guideMeter = """
    {"eventName": "tokens_used", "displayName": "Tokens Used", "filters": [{"key": "model", "values": ["llama3.1", "llama3.2"]}],
     "aggregation": "SUM", "valueProperty": "tokens", "reset": "PERIODIC", "billingPeriod": "MONTHLY"}
    """

let jsonHeaders: HTTPFields = [.contentType: "application/json"]
let singleEventHeaders: HTTPFields = [.contentType: "application/cloudevents+json"]
let batchHeaders: HTTPFields = [.contentType: "application/cloudevents-batch+json"]
