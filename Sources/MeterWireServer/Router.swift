import MeterWire
import NIOCore

/// What a handler answers: a status and its payload (the response message, or an
/// ErrorDetail when the status is not OK).
public struct RPCReply: Sendable {
    public var status: StatusCode
    public var payload: ByteBuffer

    public init(status: StatusCode, payload: ByteBuffer) {
        self.status = status
        self.payload = payload
    }
}

/// Per-call facts a handler may need.
public struct RequestContext: Sendable {
    /// The tenant named in the connection's handshake.
    public var tenantId: String
    /// The connection's event loop: where replies are encoded, so that a completion called on
    /// the engine's writer thread hands the work over instead of doing it there.
    public var eventLoop: (any EventLoop)?

    public init(tenantId: String, eventLoop: (any EventLoop)? = nil) {
        self.tenantId = tenantId
        self.eventLoop = eventLoop
    }

    /// Runs `body` on the connection's event loop (at once when there is none).
    public func onEventLoop(_ body: @escaping @Sendable () -> Void) {
        if let eventLoop { eventLoop.execute(body) } else { body() }
    }
}

/// Maps method ids to handlers (grpc-swift-2's RPCRouter, in small). Services register their
/// methods with `register`; an unknown method id is answered UNIMPLEMENTED by the connection.
public struct Router: Sendable {
    public typealias Handler = @Sendable (ByteBuffer, RequestContext) async -> RPCReply
    /// Called on the connection's event loop; calls its last argument once, from any thread,
    /// with the reply. For the hot ingest path: no task, no hop through the thread pool.
    public typealias CompletionHandler = @Sendable (ByteBuffer, RequestContext, @escaping @Sendable (RPCReply) -> Void) -> Void
    private var handlers: [UInt16: CompletionHandler] = [:]
    /// When set, every known method's latency (call to reply) and reply status are reported.
    public var observer: (any WireServerObserver)?

    public init() {}

    /// Registers an async handler; each call runs in its own task.
    public mutating func register(_ method: MethodID, _ handler: @escaping Handler) {
        register(method, completion: { payload, context, done in
            Task { done(await handler(payload, context)) }
        })
    }

    /// Registers a handler that answers through a completion instead of a task.
    public mutating func register(_ method: MethodID, completion handler: @escaping CompletionHandler) {
        precondition(handlers[method.rawValue] == nil, "method \(method) registered twice")
        handlers[method.rawValue] = handler
    }

    /// The handler of `methodId`, or nil when no service registered it.
    public func handler(for methodId: UInt16) -> CompletionHandler? {
        guard let handler = handlers[methodId] else { return nil }
        guard let observer, MethodID(rawValue: methodId) != nil else { return handler }
        return { payload, context, done in
            let started = NIODeadline.now()
            handler(payload, context) { reply in
                observer.requestAnswered(method: methodId, status: reply.status, nanoseconds: (NIODeadline.now() - started).nanoseconds)
                done(reply)
            }
        }
    }
}
