import Foundation
import MeterProto
import MeterWire
import NIOCore
import XCTest

@testable import MeterClient

/// The client against an in-process fake server on a real Unix-domain socket.
final class MeterClientConnectionTests: XCTestCase {
    private func reference(_ id: String) -> Meterd_V1_MeterReference {
        MeterClient.reference(id)
    }

    /// Runs `body` with a fake server and a client connected to it, then tears both down.
    private func withConnection(
        options: FakeServerOptions = FakeServerOptions(),
        tenantId: String = "acme",
        _ body: (MeterClient, FakeServer) async throws -> Void
    ) async throws {
        let server = try await FakeServer.start(options: options)
        do {
            let client = try await MeterClient.connect(to: server.address, tenantId: tenantId, clientName: "tests")
            do {
                try await body(client, server)
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    func testHandshakeSendsPrefaceAndHandshakeAndStoresLimits() async throws {
        var options = FakeServerOptions()
        options.maximumInFlight = 7
        options.maximumBatchEvents = 123
        try await withConnection(options: options) { client, server in
            XCTAssertEqual(client.serverLimits.maximumInFlight, 7)
            XCTAssertEqual(client.serverLimits.maximumBatchEvents, 123)
            XCTAssertEqual(client.serverLimits.maximumFrameBytes, 4 << 20)
            XCTAssertEqual(client.tenantId, "acme")
            XCTAssertEqual(client.serverVersion, "fake-1.0")
            let handshake = try XCTUnwrap(server.record.snapshot.handshakes.first)
            XCTAssertEqual(handshake.protocolVersion, 1)
            XCTAssertEqual(handshake.clientName, "tests")
            XCTAssertEqual(handshake.tenantID, "acme")
            XCTAssertEqual(handshake.maxFrameBytes, 4 << 20)
        }
    }

    func testHandshakePayloadMatchesGoldenVector() async throws {
        // proto/testdata/handshake.hex, payload part (after the 12-byte header).
        let golden = "0801120d676f6c64656e2d636c69656e741a0764656661756c742880808002"
        let server = try await FakeServer.start()
        let client = try await MeterClient.connect(to: server.address, tenantId: "default", clientName: "golden-client")
        await client.close()
        await server.stop()
        let payload = try XCTUnwrap(server.record.snapshot.handshakePayloads.first)
        XCTAssertEqual(payload.map { String(format: "%02x", $0) }.joined(), golden)
    }

    func testWatchingAServerWithoutStreamsFailsUnimplementedAndKeepsTheConnection() async throws {
        // The fake is an older server: no HandshakeAck.server_streams, and method 91 unknown.
        try await withConnection { client, _ in
            do {
                for try await notification in client.watchNotifications(after: 0) {
                    XCTFail("a notification from a server that has no streams: \(notification)")
                }
                XCTFail("the watch ended without the server's UNIMPLEMENTED")
            } catch let error as MeterClientError {
                XCTAssertEqual(error.code, .unimplemented, "\(error)")
            }
            let meter = try await client.getMeter(MeterClient.reference("mtr_after_watch"))
            XCTAssertEqual(meter.id, "mtr_after_watch")
        }
    }

    func testRepliesOutOfOrderAreMatchedByStreamId() async throws {
        try await withConnection { client, server in
            // The fake holds both requests until it has both, then answers the later one first.
            async let first = client.getMeter(MeterClient.reference("mtr_held_a"))
            async let second = client.getMeter(MeterClient.reference("mtr_held_b"))
            let (meterA, meterB) = try await (first, second)
            XCTAssertEqual(meterA.id, "mtr_held_a")
            XCTAssertEqual(meterA.definition.displayName, "answer to mtr_held_a")
            XCTAssertEqual(meterB.id, "mtr_held_b")
            XCTAssertEqual(meterB.definition.displayName, "answer to mtr_held_b")
            let streamIds = server.record.snapshot.requestStreamIds
            XCTAssertEqual(streamIds.count, 2)
            XCTAssertEqual(Set(streamIds), [1, 3], "requests use odd stream ids from 1")
        }
    }

    func testManyConcurrentCallsEachGetTheirOwnReply() async throws {
        try await withConnection { client, server in
            try await withThrowingTaskGroup(of: (String, String).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let id = "mtr_\(index)"
                        return (id, try await client.getMeter(MeterClient.reference(id)).id)
                    }
                }
                for try await (asked, answered) in group {
                    XCTAssertEqual(asked, answered)
                }
            }
            let streamIds = server.record.snapshot.requestStreamIds
            XCTAssertEqual(Set(streamIds).count, 200)
            XCTAssertTrue(streamIds.allSatisfy { $0 % 2 == 1 })
        }
    }

    func testErrorStatusBecomesStatusErrorWithServerMessage() async throws {
        try await withConnection { client, _ in
            do throws(MeterClientError) {
                _ = try await client.getMeter(reference("mtr_missing"))
                XCTFail("expected NOT_FOUND")
            } catch {
                XCTAssertEqual(error, .status(code: .notFound, message: "no meter has the id \"mtr_missing\"", reason: "METER_NOT_FOUND"))
                XCTAssertEqual(error.description, "NOT_FOUND: no meter has the id \"mtr_missing\"")
                XCTAssertFalse(error.isRetryable)
            }
            // The connection stays usable after a request error.
            let meter = try await client.getMeter(reference("mtr_7"))
            XCTAssertEqual(meter.id, "mtr_7")
        }
    }

    func testUnknownMethodGetsUnimplemented() async throws {
        try await withConnection { client, _ in
            do throws(MeterClientError) {
                _ = try await client.healthCheck()
                XCTFail("expected UNIMPLEMENTED")
            } catch {
                XCTAssertEqual(error.code, .unimplemented)
            }
        }
    }

    func testUnansweredCallExceedsItsDeadlineAndTheConnectionStaysUsable() async throws {
        try await withConnection { client, _ in
            let clock = ContinuousClock()
            let start = clock.now
            do throws(MeterClientError) {
                _ = try await client.getMeter(reference("mtr_silent"), timeout: .milliseconds(200))
                XCTFail("expected a deadline error")
            } catch {
                XCTAssertEqual(error, .deadlineExceeded)
                XCTAssertTrue(error.isRetryable)
            }
            XCTAssertGreaterThanOrEqual(clock.now - start, .milliseconds(200))
            let meter = try await client.getMeter(reference("mtr_after"))
            XCTAssertEqual(meter.id, "mtr_after")
        }
    }

    func testGoAwayFailsPendingAndLaterCallsWithConnectionError() async throws {
        try await withConnection { client, _ in
            async let silent = client.getMeter(MeterClient.reference("mtr_silent"))
            do throws(MeterClientError) {
                _ = try await client.getMeter(reference("mtr_goaway"))
                XCTFail("expected a connection error")
            } catch {
                guard case .connection(let message) = error else { return XCTFail("unexpected \(error)") }
                XCTAssertTrue(message.contains("server shutting down"), message)
                XCTAssertTrue(error.isRetryable)
            }
            do {
                _ = try await silent
                XCTFail("expected a connection error")
            } catch {
                guard case .connection = error as? MeterClientError else { return XCTFail("unexpected \(error)") }
            }
            do throws(MeterClientError) {
                _ = try await client.getMeter(reference("mtr_later"))
                XCTFail("expected a connection error")
            } catch {
                guard case .connection = error else { return XCTFail("unexpected \(error)") }
            }
        }
    }

    func testRefusedHandshakeThrowsTheServerReason() async throws {
        var options = FakeServerOptions()
        options.handshakeRefusal = "invalid tenant id \"Bad Tenant\""
        let server = try await FakeServer.start(options: options)
        do throws(MeterClientError) {
            _ = try await MeterClient.connect(to: server.address, tenantId: "Bad Tenant")
            XCTFail("expected the handshake to be refused")
        } catch {
            guard case .connection(let message) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue(message.contains("invalid tenant id \"Bad Tenant\""), message)
        }
        await server.stop()
    }

    func testConnectingToAMissingSocketFails() async throws {
        do throws(MeterClientError) {
            _ = try await MeterClient.connect(to: .unixSocket(path: "/nonexistent-meterd-test/meterd.sock"))
            XCTFail("expected a connection error")
        } catch {
            guard case .connection(let message) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue(message.contains("unix:/nonexistent-meterd-test/meterd.sock"), message)
        }
    }

    func testPingIsAnsweredByPong() async throws {
        try await withConnection { client, server in
            let roundTrip = try await client.ping()
            XCTAssertGreaterThan(roundTrip, .zero)
            XCTAssertEqual(server.record.snapshot.pingStreamIds, [1])
        }
    }

    /// The server answers only when two requests are outstanding at once: a client that sends
    /// one at a time gets its replies by the fake's timeout (counted), one that ignores the limit
    /// shows more than two outstanding.
    func testCallsBeyondTheInFlightLimitWaitInTheClient() async throws {
        var options = FakeServerOptions()
        options.maximumInFlight = 2
        options.answerWhenOutstanding = 2
        try await withConnection(options: options) { client, server in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<10 {
                    group.addTask { _ = try await client.getMeter(MeterClient.reference("mtr_\(index)")) }
                }
                try await group.waitForAll()
            }
            let record = server.record.snapshot
            XCTAssertEqual(record.requestStreamIds.count, 10)
            XCTAssertEqual(record.mostOutstanding, 2, "the limit is 2: never more, and the calls must use both slots")
            XCTAssertEqual(record.heldReplyTimeouts, 0, "the client did not keep two requests outstanding")
        }
    }

    func testIngestBatchSplitsAtTheServerLimitAndKeepsOrder() async throws {
        var options = FakeServerOptions()
        options.maximumBatchEvents = 2
        try await withConnection(options: options) { client, server in
            let events = (1...5).map { index in
                var event = Meterd_V1_Event()
                event.eventID = "evt-\(index)"
                event.eventName = "tokens_used"
                event.customerID = "cust-1"
                return event
            }
            let response = try await client.ingestBatch(events)
            XCTAssertEqual(response.results.map(\.message), ["evt-1", "evt-2", "evt-3", "evt-4", "evt-5"])
            XCTAssertEqual(response.accepted, 5)
            XCTAssertEqual(server.record.snapshot.batchSizes.sorted(), [1, 2, 2])
        }
    }

    func testCallsAfterCloseFail() async throws {
        try await withConnection { client, _ in
            await client.close()
            XCTAssertFalse(client.isConnected)
            do throws(MeterClientError) {
                _ = try await client.getMeter(reference("mtr_1"))
                XCTFail("expected a connection error")
            } catch {
                guard case .connection = error else { return XCTFail("unexpected \(error)") }
            }
        }
    }

    func testCancelledCallFailsWithCancelled() async throws {
        try await withConnection { client, _ in
            let task = Task { try await client.getMeter(MeterClient.reference("mtr_silent"), timeout: .seconds(30)) }
            task.cancel()
            do {
                _ = try await task.value
                XCTFail("expected a cancellation")
            } catch {
                XCTAssertEqual((error as? MeterClientError)?.code, .cancelled, "\(error)")
            }
        }
    }

    func testCallCancelledWhileWaitingForASlotIsNeverSent() async throws {
        var options = FakeServerOptions()
        options.maximumInFlight = 1
        try await withConnection(options: options) { client, server in
            let occupying = Task { try await client.getMeter(MeterClient.reference("mtr_silent"), timeout: .seconds(30)) }
            await server.record.waitForRequests(1)
            let waiting = Task { try await client.getMeter(MeterClient.reference("mtr_2"), timeout: .seconds(30)) }
            waiting.cancel()
            do {
                _ = try await waiting.value
                XCTFail("expected a cancellation")
            } catch {
                XCTAssertEqual((error as? MeterClientError)?.code, .cancelled, "\(error)")
            }
            // A PING round trip: everything written before it has reached the server.
            try await client.ping()
            XCTAssertEqual(server.record.snapshot.requestStreamIds.count, 1, "the cancelled call was sent")
            await client.close()
            do {
                _ = try await occupying.value
                XCTFail("expected a connection error")
            } catch {
                guard case .connection = error as? MeterClientError else { return XCTFail("unexpected \(error)") }
            }
        }
    }

    func testErrorDetailOfTheGoldenVectorDecodes() throws {
        // proto/testdata/error_response.hex
        let hex = "0000006f020000060000000108061255616e20616374697665206d6574657220616c72656164792075736573206576656e74206e616d652022746f6b656e735f75736564223b206172636869766520697420666972737420746f207265706c6163652069741a144d455445525f414c52454144595f455849535453"
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        var buffer = ByteBuffer(bytes: bytes)
        let frame = try XCTUnwrap(try FrameDecoder.readFrame(from: &buffer, maximumFrameBytes: 4 << 20))
        let error = MeterClient.statusError(from: frame)
        XCTAssertEqual(
            error.description,
            "ALREADY_EXISTS: an active meter already uses event name \"tokens_used\"; archive it first to replace it")
        guard case .status(_, _, let reason) = error else { return XCTFail("unexpected \(error)") }
        XCTAssertEqual(reason, "METER_ALREADY_EXISTS")
    }
}
