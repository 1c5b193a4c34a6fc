import MeterProto
import MeterWire
import NIOCore

/// Entitlements/WatchNotifications (method 91), the server stream of threshold notifications
/// (docs/protocol.md, "Server streams").
extension MeterClient {
    /// The tenant's notifications numbered above `after`, oldest first: first those already
    /// raised, then each new one as the server raises it. Needs the read or admin role.
    ///
    /// The sequence runs until the consumer stops (cancelling the consuming task, or dropping the
    /// sequence, sends CANCEL to the server), the server ends the stream (it is shutting down:
    /// the sequence simply finishes) or fails (it throws a ``MeterClientError``). To resume, on
    /// this connection or a new one, call again with the number of the last notification
    /// received: nothing is missed and nothing comes twice.
    ///
    /// The server sends the next notification only once the previous one reached the socket, but
    /// this client reads as fast as they come and buffers what the consumer has not taken yet
    /// (notifications are small; there is no client-side flow control). The stream holds one of
    /// the connection's in-flight slots until it ends.
    ///
    /// - Parameter meter: only this meter's notifications (nil: every meter's).
    public func watchNotifications(after: UInt64, meter: Meterd_V1_MeterReference? = nil) -> AsyncThrowingStream<Meterd_V1_Notification, any Error> {
        var request = Meterd_V1_WatchNotificationsRequest()
        request.afterNumber = after
        if let meter { request.meter = meter }
        let channel = channel
        return AsyncThrowingStream { continuation in
            let payload: ByteBuffer
            do {
                payload = try ProtobufPayload.encode(request, allocator: channel.allocator)
            } catch {
                continuation.finish(throwing: MeterClientError.protocolViolation("cannot encode the WatchNotifications request: \(error)"))
                return
            }
            let handle = ClientStreamHandle()
            let promise = channel.eventLoop.makePromise(of: WireFrame.self)
            let call = OutgoingCall(
                method: .watchNotifications, payload: payload, promise: promise, timeout: .zero,
                onMessage: { message in
                    do {
                        continuation.yield(try ProtobufPayload.decode(Meterd_V1_Notification.self, from: message))
                    } catch {
                        continuation.finish(throwing: MeterClientError.protocolViolation("cannot decode a WatchNotifications message: \(error)"))
                        channel.writeAndFlush(ClientCommand.cancelStream(handle), promise: nil)
                    }
                },
                streamHandle: handle)
            promise.futureResult.whenComplete { result in
                switch result {
                case .success(let frame):
                    if frame.code == StatusCode.ok.rawValue || frame.code == StatusCode.cancelled.rawValue {
                        continuation.finish()
                    } else {
                        continuation.finish(throwing: MeterClient.statusError(from: frame))
                    }
                case .failure(let error):
                    continuation.finish(throwing: MeterClientError(error))
                }
            }
            continuation.onTermination = { termination in
                if case .cancelled = termination {
                    channel.writeAndFlush(ClientCommand.cancelStream(handle), promise: nil)
                }
            }
            channel.writeAndFlush(ClientCommand.call(call)).whenFailure { error in promise.fail(error) }
        }
    }
}
