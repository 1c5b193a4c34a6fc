import Foundation
import MeterProto
import MeterWire
import MeterTestSupport
import XCTest

/// Per-tenant quotas over real sockets: a tenant over its events-per-second quota is refused
/// RESOURCE_EXHAUSTED naming the quota, loses nothing it was acknowledged, and another tenant's
/// ingest goes on; a tenant at its meter quota cannot create another.
final class QuotaTests: XCTestCase {
    static func batch(_ prefix: String, _ number: Int, customer: String = "c1") -> Meterd_V1_IngestBatchRequest {
        var request = Meterd_V1_IngestBatchRequest()
        request.events = (0..<100).map { ServerEndToEndTests.event("\(prefix)-\(number)-\($0)", customer: customer, tokens: "1") }
        return request
    }

    func testTenantOverItsEventRateIsRefusedWhileAnotherIsServed() throws {
        let server = try ServerProcess(self, arguments: ["--tenant-quota", "acme:events-per-second=300,meters=1", "--metrics", "127.0.0.1:0"])
        defer { XCTAssertEqual(server.stop(), 0) }
        let acme = try RawWireClient(.unix(server.socketPath))
        try acme.handshake(tenant: "acme")
        let globex = try RawWireClient(.unix(server.socketPath))
        try globex.handshake(tenant: "globex")
        for client in [acme, globex] {
            _ = try client.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        }
        // The meter quota: acme has its one meter; globex has no such limit.
        var second = ServerEndToEndTests.guideMeter()
        second.definition.eventName = "requests"
        let refusedMeter = try acme.call(.createMeter, second, as: Meterd_V1_CreateMeterResponse.self)
        guard case .failure(let detail) = refusedMeter else { return XCTFail("a second acme meter was created") }
        XCTAssertEqual(detail.code, 8)
        XCTAssertEqual(detail.reason, "QUOTA_METERS")
        XCTAssertTrue(detail.message.contains("quota of 1 active meters"), detail.message)
        _ = try globex.call(.createMeter, second, as: Meterd_V1_CreateMeterResponse.self).get()

        // acme sends 30 batches of 100 as fast as it can; globex one batch after each.
        var acmeAccepted = 0
        var acmeRefused = 0
        var globexMilliseconds: [Double] = []
        let started = ContinuousClock.now
        for number in 0..<30 {
            switch try acme.call(.ingestBatch, Self.batch("acme", number), as: Meterd_V1_IngestBatchResponse.self) {
            case .success(let response):
                XCTAssertEqual(response.results.filter { $0.status == .accepted }.count, 100)
                acmeAccepted += 100
            case .failure(let refusal):
                XCTAssertEqual(refusal.code, 8)
                XCTAssertEqual(refusal.reason, "QUOTA_EVENTS_PER_SECOND")
                XCTAssertTrue(refusal.message.contains("quota of 300 events per second"), refusal.message)
                acmeRefused += 1
            }
            let sent = ContinuousClock.now
            let results = try globex.call(.ingestBatch, Self.batch("globex", number), as: Meterd_V1_IngestBatchResponse.self).get().results
            globexMilliseconds.append(Double((ContinuousClock.now - sent).components.attoseconds) / 1e15 + Double((ContinuousClock.now - sent).components.seconds) * 1000)
            XCTAssertEqual(results.filter { $0.status == .accepted }.count, 100, "globex is not limited by acme's quota")
        }
        let elapsedSeconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds)
        XCTAssertGreaterThan(acmeRefused, 0, "acme was never refused")
        // At most the bucket (300) plus the refill plus one batch taken below zero.
        XCTAssertLessThanOrEqual(Double(acmeAccepted), 300 + 300 * elapsedSeconds + 100)
        // Nothing acknowledged was lost: acme's usage is exactly what was accepted; globex got all 3000.
        XCTAssertEqual(try ServerEndToEndTests.currentUsage(acme, customer: "c1"), String(acmeAccepted))
        XCTAssertEqual(try ServerEndToEndTests.currentUsage(globex, customer: "c1"), "3000")
        let sorted = globexMilliseconds.sorted()
        print("quota figures: acme accepted \(acmeAccepted) events and was refused \(acmeRefused) of 30 batches in \(String(format: "%.2f", elapsedSeconds)) s; "
              + "globex 30 batches of 100 all accepted, latency p50 \(String(format: "%.1f", sorted[15])) ms, max \(String(format: "%.1f", sorted.last!)) ms")

        let samples = PrometheusSamples(try OperationsTests.httpGet(port: try XCTUnwrap(server.metricsPort), path: "/metrics").body)
        XCTAssertEqual(samples["meterd_quota_refusals_total{tenant=\"acme\",quota=\"events_per_second\"}"], Double(acmeRefused))
        XCTAssertEqual(samples["meterd_quota_refusals_total{tenant=\"acme\",quota=\"meters\"}"], 1)
        XCTAssertNil(samples["meterd_quota_refusals_total{tenant=\"globex\",quota=\"events_per_second\"}"])
    }

    func testBadQuotaSettingsAreRefused() throws {
        for setting in ["acme", "acme:events-per-second=-1", "acme:colors=3", "Not A Tenant:meters=1", "acme:customers-per-meter=-2", "acme:series-per-meter=x"] {
            let child = try ChildProcess("meterd", ["--data-dir", NSTemporaryDirectory() + "/never-quota", "--no-tcp",
                                                    "--socket", NSTemporaryDirectory() + "/never-quota.sock", "--tenant-quota", setting])
            let exit = child.wait()
            XCTAssertNotEqual(exit.status, 0, setting)
            XCTAssertTrue(exit.errorOutput.contains("tenant-quota must be"), exit.errorOutput)
        }
    }

    /// A meterd started with a customers-per-meter quota rejects the events of a new customer
    /// one by one (the rest of the batch is acknowledged) and counts them by reason; the
    /// events are accepted after a restart with a larger quota (their ids were never taken).
    func testEventsOfCustomersBeyondTheQuotaAreRejectedOneByOne() throws {
        let server = try ServerProcess(self, arguments: ["--quota-customers-per-meter", "5", "--tenant-quota", "acme:series-per-meter=2", "--metrics", "127.0.0.1:0"])
        let client = try RawWireClient(.unix(server.socketPath))
        try client.handshake(tenant: "acme")
        _ = try client.call(.createMeter, ServerEndToEndTests.guideMeter(), as: Meterd_V1_CreateMeterResponse.self).get()
        var request = Meterd_V1_IngestBatchRequest()
        request.events = ["c1", "c2", "c3", "c1", "c4"].enumerated().map { ServerEndToEndTests.event("q-\($0.offset)", customer: $0.element, tokens: "10") }
        let results = try client.call(.ingestBatch, request, as: Meterd_V1_IngestBatchResponse.self).get().results
        XCTAssertEqual(results.map(\.status), [.accepted, .accepted, .rejected, .accepted, .rejected])
        XCTAssertEqual(results[2].reason, "QUOTA_SERIES_PER_METER")
        XCTAssertTrue(results[2].message.contains("quota of 2 series"), results[2].message)
        XCTAssertEqual(try ServerEndToEndTests.currentUsage(client, customer: "c1"), "20")
        let samples = PrometheusSamples(try OperationsTests.httpGet(port: try XCTUnwrap(server.metricsPort), path: "/metrics").body)
        XCTAssertEqual(samples["meterd_events_rejected_total{tenant=\"acme\",reason=\"QUOTA_SERIES_PER_METER\"}"], 2)
        XCTAssertEqual(server.stop(), 0)

        // Restarted with acme on the default (5 customers): the refused events go in now.
        let restarted = try ServerProcess(self, arguments: ["--quota-customers-per-meter", "3"], directory: server.directory)
        defer { XCTAssertEqual(restarted.stop(), 0) }
        let again = try RawWireClient(.unix(restarted.socketPath))
        try again.handshake(tenant: "acme")
        XCTAssertEqual(try ServerEndToEndTests.currentUsage(again, customer: "c1"), "20", "replay decides no quota again")
        let resent = try again.call(.ingestBatch, request, as: Meterd_V1_IngestBatchResponse.self).get().results
        XCTAssertEqual(resent.map(\.status), [.duplicate, .duplicate, .accepted, .duplicate, .rejected])
        XCTAssertEqual(resent[4].reason, "QUOTA_CUSTOMERS_PER_METER")
        XCTAssertTrue(resent[4].message.contains("quota of 3 distinct customers"), resent[4].message)
    }
}
