import MeterProto
import MeterWire
import NIOCore
import NIOPosix
import NIOSSL
import SwiftProtobuf
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An async/await client for meterd over one connection (Unix-domain socket or TCP).
///
/// The connection is made and the handshake done by ``connect(to:tenantId:clientName:credential:timeout:eventLoopGroup:)``;
/// every call then goes over that one connection. Calls may be made concurrently from many
/// tasks: they are pipelined (each REQUEST gets its own stream id and replies may come in any
/// order), and beyond the server's `max_in_flight` they wait their turn in the client.
///
/// When the connection is lost or the server sends GOAWAY, every call still waiting fails with
/// ``MeterClientError/connection(_:)``, and so do later calls: connect again to carry on.
/// Retrying ingestion with the same event ids is always safe.
public final class MeterClient: Sendable {
    /// Per-call deadline used when a call gives none.
    public static let defaultCallTimeout: Duration = .seconds(30)

    /// The address the client connected to.
    public let address: MeterAddress
    /// The tenant every call acts for, as the server confirmed it in the handshake.
    public let tenantId: String
    /// The server's version string from the handshake.
    public let serverVersion: String
    /// The limits the server announced: frame size, events per batch, requests in flight.
    public let serverLimits: WireLimits
    /// The role the server granted this connection's credential.
    public let role: Meterd_V1_KeyRole
    /// Who the server took this connection for: "key key_3" or "uid 1000".
    public let principal: String

    let channel: any Channel
    private let isClosed = Mutex(false)

    private init(address: MeterAddress, channel: any Channel, acknowledgement: Meterd_V1_HandshakeAck) {
        self.address = address
        self.channel = channel
        tenantId = acknowledgement.tenantID
        serverVersion = acknowledgement.serverVersion
        role = acknowledgement.role
        principal = acknowledgement.principal
        var limits = WireLimits()
        if acknowledgement.maxFrameBytes > 0 { limits.maximumFrameBytes = Int(acknowledgement.maxFrameBytes) }
        if acknowledgement.maxBatchEvents > 0 { limits.maximumBatchEvents = Int(acknowledgement.maxBatchEvents) }
        if acknowledgement.maxInFlight > 0 { limits.maximumInFlight = Int(acknowledgement.maxInFlight) }
        serverLimits = limits
    }

    deinit {
        if !isClosed.withLock({ $0 }) {
            channel.close(promise: nil)
        }
    }

    /// Connects to a meterd server and performs the handshake.
    ///
    /// Writes the 8-byte preface and a HANDSHAKE frame, then waits for HANDSHAKE_ACK. A GOAWAY
    /// instead (bad credential, unknown tenant, unsupported version) fails with the server's reason.
    ///
    /// - Parameters:
    ///   - address: where the server listens.
    ///   - tenantId: the tenant every call on this connection acts for. Empty: the API key's
    ///     tenant (without a key, "default"). A tenant other than the key's is refused.
    ///   - clientName: names this program in the server's logs.
    ///   - credential: an API key secret ("mk_..."); empty to connect as the local user on the
    ///     Unix socket. TCP needs one. A refusal is `.status` UNAUTHENTICATED or PERMISSION_DENIED.
    ///   - tls: TLS for a TCP address (the server's CA, and a client certificate for mutual TLS).
    ///   - timeout: limit for connecting and the handshake together.
    ///   - eventLoopGroup: where the connection's I/O runs.
    public static func connect(
        to address: MeterAddress,
        tenantId: String = "",
        clientName: String = "meter-client",
        credential: String = "",
        tls: MeterClientTLS? = nil,
        timeout: Duration = .seconds(10),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(MeterClientError) -> MeterClient {
        var bootstrap = ClientBootstrap(group: eventLoopGroup).connectTimeout(TimeAmount(timeout))
        if let tls, case .tcp(let host, _) = address {
            let context: NIOSSLContext
            do {
                context = try tls.makeContext()
            } catch {
                throw .connection("cannot set up TLS: \(error)")
            }
            // SNI and name checks need a host name; an IP address is checked against the
            // certificate's IP addresses instead.
            let serverName: String? = tls.serverName ?? (MeterClientTLS.isIPAddress(host) ? nil : host)
            bootstrap = bootstrap.channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                }
            }
        }
        let channel: any Channel
        do {
            switch address {
            case .unixSocket(let path):
                channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .tcp(let host, let port):
                channel = try await bootstrap.connect(host: host, port: port).get()
            }
        } catch {
            throw .connection("cannot connect to \(address): \(Self.explain(error))")
        }

        var handshake = Meterd_V1_Handshake()
        handshake.protocolVersion = UInt32(WirePreface.protocolVersion)
        handshake.clientName = clientName
        handshake.tenantID = tenantId
        handshake.credential = credential
        handshake.maxFrameBytes = UInt32(WireLimits().maximumFrameBytes)
        let handshakePayload: ByteBuffer
        do {
            handshakePayload = try ProtobufPayload.encode(handshake, allocator: channel.allocator)
        } catch {
            channel.close(promise: nil)
            throw .protocolViolation("cannot encode the handshake: \(error)")
        }

        let acknowledged = channel.eventLoop.makePromise(of: Meterd_V1_HandshakeAck.self)
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            acknowledged.fail(MeterClientError.connection("no handshake reply from \(address) within \(timeout)"))
        }
        let setUp = channel.eventLoop.submit {
            // The preface and the handshake go out as raw bytes, before the frame encoder is in
            // the pipeline; both happen in this one event-loop turn, so no reply can be missed.
            var bytes = channel.allocator.buffer(capacity: WirePreface.length + WireFrame.headerLength + handshakePayload.readableBytes)
            bytes.writeBytes(WirePreface.bytes)
            FrameEncoder.write(WireFrame(type: .handshake, payload: handshakePayload), to: &bytes)
            channel.writeAndFlush(bytes, promise: nil)
            try channel.pipeline.syncOperations.addHandlers([
                ByteToMessageHandler(FrameDecoder(expectPreface: false, maximumFrameBytes: 64 << 20)),
                MessageToByteHandler(FrameEncoder()),
                ClientConnectionHandler(handshakePromise: acknowledged),
            ])
        }
        let acknowledgement: Meterd_V1_HandshakeAck
        do {
            try await setUp.get()
            acknowledgement = try await acknowledged.futureResult.get()
        } catch {
            deadline.cancel()
            acknowledged.fail(error)
            channel.close(promise: nil)
            throw MeterClientError(error)
        }
        deadline.cancel()
        return MeterClient(address: address, channel: channel, acknowledgement: acknowledgement)
    }

    /// Calls `method` with `request` and decodes the reply as `Response`.
    ///
    /// A reply with a non-OK status throws ``MeterClientError/status(code:message:reason:)`` with
    /// the server's ErrorDetail. No reply within `timeout` (default 30 s) throws
    /// ``MeterClientError/deadlineExceeded``; the server may still have acted on the request.
    public func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodID,
        _ request: Request,
        as responseType: Response.Type = Response.self,
        timeout: Duration? = nil
    ) async throws(MeterClientError) -> Response {
        let payload: ByteBuffer
        do {
            payload = try ProtobufPayload.encode(request, allocator: channel.allocator)
        } catch {
            throw .protocolViolation("cannot encode the \(method) request: \(error)")
        }
        let frame = try await exchange(method: method, payload: payload, timeout: timeout ?? Self.defaultCallTimeout)
        guard frame.code == StatusCode.ok.rawValue else {
            throw Self.statusError(from: frame)
        }
        do {
            return try ProtobufPayload.decode(Response.self, from: frame.payload)
        } catch {
            throw .protocolViolation("cannot decode the \(method) response: \(error)")
        }
    }

    /// Sends one REQUEST frame and waits for its RESPONSE frame.
    private func exchange(method: MethodID, payload: ByteBuffer, timeout: Duration) async throws(MeterClientError) -> WireFrame {
        let promise = channel.eventLoop.makePromise(of: WireFrame.self)
        let command = ClientCommand.call(OutgoingCall(method: method, payload: payload, promise: promise, timeout: TimeAmount(timeout)))
        return try await Self.waitFor(promise, command: command, on: channel)
    }

    /// Writes `command` and waits for `promise`, failing it if the task is cancelled.
    private static func waitFor<Value: Sendable>(
        _ promise: EventLoopPromise<Value>, command: ClientCommand, on channel: any Channel
    ) async throws(MeterClientError) -> Value {
        // If the channel is already closed the handler never sees the command: fail the promise here.
        channel.writeAndFlush(command).whenFailure { error in
            promise.fail(error)
        }
        let result: Result<Value, MeterClientError> = await withTaskCancellationHandler {
            do {
                return .success(try await promise.futureResult.get())
            } catch {
                return .failure(MeterClientError(error))
            }
        } onCancel: {
            promise.fail(CancellationError())
        }
        return try result.get()
    }

    /// Sends a PING and waits for the PONG; returns the round-trip time.
    @discardableResult
    public func ping(timeout: Duration? = nil) async throws(MeterClientError) -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let promise = channel.eventLoop.makePromise(of: Void.self)
        try await Self.waitFor(promise, command: .ping(promise: promise, timeout: TimeAmount(timeout ?? Self.defaultCallTimeout)), on: channel)
        return clock.now - start
    }

    /// Closes the connection. Calls still waiting fail with a connection error. Safe to call
    /// more than once.
    ///
    /// No GOAWAY is sent: in the meterd protocol only servers send GOAWAY, and a client closes a
    /// connection by closing its socket (docs/protocol.md).
    public func close() async {
        let first = isClosed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first {
            try? await channel.close().get()
        } else {
            try? await channel.closeFuture.get()
        }
    }

    /// Whether the connection is still open (it closes on GOAWAY, on errors and on ``close()``).
    public var isConnected: Bool { channel.isActive }

    /// The error a non-OK RESPONSE stands for, from its ErrorDetail payload.
    static func statusError(from frame: WireFrame) -> MeterClientError {
        let code = StatusCode(rawValue: frame.code)
        guard let detail = try? ProtobufPayload.decode(Meterd_V1_ErrorDetail.self, from: frame.payload) else {
            return .status(code: code, message: "", reason: "")
        }
        return .status(code: code, message: detail.message, reason: detail.reason)
    }

    /// A short human explanation of a connect failure ("No such file or directory", ...).
    private static func explain(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            let text = String(cString: strerror(error.errnoCode))
            let isMissingServer = error.errnoCode == ENOENT || error.errnoCode == ECONNREFUSED
            return isMissingServer ? "\(text) (is meterd running?)" : text
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first {
                return explain(failure.error)
            }
            if let resolution = error.dnsAError ?? error.dnsAAAAError {
                return "cannot resolve \(error.host): \(resolution)"
            }
            return "\(error)"
        case let error as ChannelError:
            if case .connectTimeout = error {
                return "timed out"
            }
            return "\(error)"
        default:
            return "\(error)"
        }
    }
}
