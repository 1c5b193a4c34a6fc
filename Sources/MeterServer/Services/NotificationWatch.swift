import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer
import NIOCore

/// Entitlements/WatchNotifications (method 91): a server stream of the tenant's threshold
/// notifications numbered above the request's cursor, the backlog first, then each new one as it
/// is raised (docs/protocol.md, "Server streams").
///
/// Pulls pages from the state with the same long poll as ListNotifications and sends each
/// notification as one MESSAGE, waiting until it has been written to the socket before sending
/// the next: a client that does not read stops the pulling, and at most one page (100) is held.
/// Ends when the connection asks (CANCEL, drain, close) with an OK `WatchNotificationsResponse`
/// naming the cursor reached (the connection turns it into CANCELLED for a client's CANCEL).
struct NotificationWatch: Sendable {
    let engine: MeterEngine
    /// Partitioned cluster mode: notifications are numbered per partition, so there is no
    /// cluster-wide cursor to stream from; the watch is refused (ListNotifications lists them).
    var clustered = false

    static let pageSize = 100
    /// How long one pull waits for a notification before it looks again (and notices an end).
    static let pullWaitMilliseconds: Int64 = 30_000

    func register(with router: inout Router) {
        let watch = self
        router.registerStreaming(.watchNotifications) { payload, context, stream in
            let request: Meterd_V1_WatchNotificationsRequest
            do throws(RPCFailure) {
                request = try decodeRequest(Meterd_V1_WatchNotificationsRequest.self, from: payload)
            } catch {
                stream.finish(error.reply)
                return
            }
            let task = Task { stream.finish(await watch.run(request, tenantId: context.tenantId, stream: stream)) }
            stream.onEnd { task.cancel() }
        }
    }

    /// Sends notifications until the stream is asked to end; returns the final reply.
    func run(_ request: Meterd_V1_WatchNotificationsRequest, tenantId: String, stream: ServerStream) async -> RPCReply {
        if clustered {
            return RPCFailure(.unavailable, "WatchNotifications is not available in cluster mode: notifications are numbered per partition "
                              + "and have no cluster-wide cursor; list them with ListNotifications (docs/cluster.md)").reply
        }
        var cursor = request.afterNumber
        let meterId: String?
        do throws(RPCFailure) {
            meterId = try await meterFilter(request, tenantId: tenantId)
        } catch {
            return error.reply
        }
        while !Task.isCancelled && !stream.isEnding {
            let started = ContinuousClock.now
            let page: (items: [(UInt64, ByteBuffer)], last: UInt64)
            do throws(EngineError) {
                page = try await engine.notificationPage(tenantId: tenantId, afterNumber: cursor, limit: Self.pageSize,
                                                         waitMilliseconds: Self.pullWaitMilliseconds) { found, last in
                    let items = found.compactMap { notification -> (UInt64, ByteBuffer)? in
                        guard meterId == nil || notification.meterId == meterId,
                              let payload = try? ProtobufPayload.encode(ProtoConversions.proto(notification)) else { return nil }
                        return (notification.number, payload)
                    }
                    return (items, found.last?.number ?? last)
                }
            } catch {
                return RPCFailure(error).reply
            }
            for (number, payload) in page.items {
                guard await stream.send(payload) else { return Self.end(cursor) }
                cursor = number
            }
            // Numbers up to `last` hold nothing more for this stream.
            cursor = Swift.max(cursor, page.last)
            if page.items.isEmpty, !Task.isCancelled, !stream.isEnding, ContinuousClock.now - started < .seconds(1) {
                // The pull came back empty at once: the server's waiting room for notification
                // readers is full. End rather than spin; the client resumes from the cursor.
                return RPCFailure(.resourceExhausted, "too many notification readers are waiting on this server; resume after \(cursor) later").reply
            }
        }
        return Self.end(cursor)
    }

    private func meterFilter(_ request: Meterd_V1_WatchNotificationsRequest, tenantId: String) async throws(RPCFailure) -> String? {
        guard request.hasMeter else { return nil }
        let reference = try ProtoConversions.reference(request.meter)
        return try await engineCall { () async throws(EngineError) in
            try await engine.read { machine throws(MeterError) in try machine.meter(tenantId: tenantId, reference).id }
        }
    }

    private static func end(_ cursor: UInt64) -> RPCReply {
        var response = Meterd_V1_WatchNotificationsResponse()
        response.lastNumber = cursor
        return RPCReply(encoding: response)
    }
}
