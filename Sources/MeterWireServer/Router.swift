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
    /// The tenant the connection acts for (from its credential, see `ConnectionIdentity`).
    public var tenantId: String
    /// The connection's event loop: where replies are encoded, so that a completion called on
    /// the engine's writer thread hands the work over instead of doing it there.
    public var eventLoop: (any EventLoop)?
    /// Who the connection is; nil for callers that are not a connection (tests of a service).
    public var identity: ConnectionIdentity?

    public init(tenantId: String, eventLoop: (any EventLoop)? = nil, identity: ConnectionIdentity? = nil) {
        self.tenantId = tenantId
        self.eventLoop = eventLoop
        self.identity = identity
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
    /// Called on the connection's event loop for a server-streaming method: sends MESSAGE frames
    /// through the `ServerStream` and ends it with `finish` (once, from any thread).
    public typealias StreamingHandler = @Sendable (ByteBuffer, RequestContext, ServerStream) -> Void
    private var handlers: [UInt16: CompletionHandler] = [:]
    private var streamingHandlers: [UInt16: StreamingHandler] = [:]
    /// When set, every known method's latency (call to reply) and reply status are reported.
    public var observer: (any WireServerObserver)?
    /// When set, every call is checked first (meterd: a revoked key, a role that does not allow
    /// the method) and answered with the returned reply instead of reaching the handler.
    public var authorize: (@Sendable (ConnectionIdentity, UInt16) -> RPCReply?)?

    public init() {}

    /// Registers an async handler; each call runs in its own task.
    public mutating func register(_ method: MethodID, _ handler: @escaping Handler) {
        register(method, completion: { payload, context, done in
            Task { done(await handler(payload, context)) }
        })
    }

    /// Registers a handler that answers through a completion instead of a task.
    public mutating func register(_ method: MethodID, completion handler: @escaping CompletionHandler) {
        precondition(handlers[method.rawValue] == nil && streamingHandlers[method.rawValue] == nil, "method \(method) registered twice")
        handlers[method.rawValue] = handler
    }

    /// Registers a server-streaming method (docs/protocol.md, "Server streams").
    public mutating func registerStreaming(_ method: MethodID, _ handler: @escaping StreamingHandler) {
        precondition(handlers[method.rawValue] == nil && streamingHandlers[method.rawValue] == nil, "method \(method) registered twice")
        streamingHandlers[method.rawValue] = handler
    }

    /// The streaming handler of `methodId`, or nil when it is not a streaming method. A call
    /// `authorize` refuses ends at once with the refusal and no MESSAGE.
    public func streamingHandler(for methodId: UInt16) -> StreamingHandler? {
        guard let registered = streamingHandlers[methodId] else { return nil }
        guard let authorize else { return registered }
        return { payload, context, stream in
            if let identity = context.identity, let refusal = authorize(identity, methodId) {
                stream.finish(refusal)
            } else {
                registered(payload, context, stream)
            }
        }
    }

    /// The handler of `methodId`, or nil when no service registered it.
    public func handler(for methodId: UInt16) -> CompletionHandler? {
        guard let registered = handlers[methodId] else { return nil }
        let handler: CompletionHandler
        if let authorize {
            let unchecked = registered
            handler = { payload, context, done in
                if let identity = context.identity, let refusal = authorize(identity, methodId) {
                    done(refusal)
                } else {
                    unchecked(payload, context, done)
                }
            }
        } else {
            handler = registered
        }
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
