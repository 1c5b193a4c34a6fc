import Hummingbird
import MeterCore
import MeterEngine
import MeterServer
import MeterWireServer

/// What every HTTP route needs: the engine (the same one the binary protocol uses), who may
/// call, the recent-events ring of the console's debugger, and limits; in partitioned cluster
/// mode the binary protocol's routing to partitions (`cluster`) for events and usage.
public struct MeterHTTPEnvironment: Sendable {
    public let engine: MeterEngine
    public let verifier: any BearerVerifier
    public let recentEvents: RecentEventLog
    /// Most events in one batch request (the binary protocol's `max_batch_events`).
    public var maximumBatchEvents: Int
    /// Largest request body read, in bytes; larger bodies get 413.
    public var maximumBodyBytes: Int
    /// Where per-event results are counted (the same `meterd_events_*` counters as the binary protocol).
    public var metrics: ServerMetrics?
    /// The wire server's tenant quotas (the same token buckets), when meterd enforces any.
    public var quotas: TenantQuotas?
    /// How long a refused credential waits before its 401 (slows down guessing, as the binary
    /// handshake's refusal delay does; only that request waits).
    public var refusalDelay: Duration = .zero
    /// The listener serves HTTPS: the console's cookie is marked `Secure`.
    public var servesTLS = false
    /// The webhook dispatcher `GET /api/v1/webhooks` reports on, when meterd runs one.
    public var webhooks: WebhookStatusSource?
    /// Partitioned cluster mode: events and usage go through the customer's partition (here or
    /// forwarded to its owner), as on the binary protocol; `engine` holds meters and keys only.
    public var cluster: ClusterAccess?

    public init(engine: MeterEngine, verifier: any BearerVerifier, recentEvents: RecentEventLog = RecentEventLog(capacity: 500),
                maximumBatchEvents: Int = 10_000, maximumBodyBytes: Int = 16 * 1024 * 1024, metrics: ServerMetrics? = nil,
                quotas: TenantQuotas? = nil) {
        self.metrics = metrics
        self.quotas = quotas
        self.engine = engine
        self.verifier = verifier
        self.recentEvents = recentEvents
        self.maximumBatchEvents = maximumBatchEvents
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// The caller's principal from `Authorization: Bearer <secret>`, checked against `needed`.
    func principal(_ request: Request, needs needed: AccessRole) async throws(HTTPProblem) -> HTTPPrincipal {
        let principal: HTTPPrincipal
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
                throw HTTPProblem(.unauthenticated, "the Authorization header must be \"Bearer <API key>\"")
            }
            guard let verified = await verifier.verify(secret: String(parts[1])) else {
                await delayRefusal()
                throw HTTPProblem(.unauthenticated, "the API key is not valid or was revoked")
            }
            principal = verified
        } else if let anonymous = verifier.anonymousPrincipal {
            principal = anonymous
        } else {
            throw HTTPProblem(.unauthenticated, "an API key is required: send \"Authorization: Bearer <API key>\"")
        }
        try Self.check(principal, needs: needed)
        return principal
    }

    static func check(_ principal: HTTPPrincipal, needs needed: AccessRole) throws(HTTPProblem) {
        guard principal.role.allows(needed) else {
            throw HTTPProblem(.permissionDenied, "the role \(principal.role.rawValue) of \(principal.name) does not allow this; it needs the \(needed.rawValue) role")
        }
    }

    /// The request body, refusing more than `maximumBodyBytes`.
    func body(_ request: inout Request) async throws(HTTPProblem) -> [UInt8] {
        do {
            let buffer = try await request.collectBody(upTo: maximumBodyBytes)
            return Array(buffer.readableBytesView)
        } catch {
            throw HTTPProblem(.resourceExhausted, "the request body is larger than \(maximumBodyBytes) bytes; split it into smaller requests", httpStatus: .contentTooLarge)
        }
    }

    /// The request's body as a JSON object, its members read with messages naming `context`
    /// ("the meter"): a body that is too large, not JSON or not an object is refused.
    func jsonObject(_ request: inout Request, context: String) async throws(HTTPProblem) -> JSONFields {
        try JSONFields(try JSONFields.parse(try await body(&request)), context: context)
    }

    /// Creates a meter as the binary protocol's CreateMeter does: the tenant's meter quota first,
    /// then the engine, audited as the principal.
    func createMeter(_ definition: MeterDefinition, principal: HTTPPrincipal) async throws(RPCFailure) -> Meter {
        try await engine.createMeter(definition, tenantId: principal.tenantId, within: quotas, actor: principal.actor)
    }

    /// Creates an API key in the principal's tenant; returns it with its secret (shown once).
    func createKey(name: String, role: KeyRole, principal: HTTPPrincipal) async throws(HTTPProblem) -> (key: ApiKey, secret: String) {
        let (definition, secret) = ApiKeySecret.newKey(tenantId: principal.tenantId, name: name, role: role)
        let engine = engine
        let key = try await call { () async throws(EngineError) in try await engine.createApiKey(definition, actor: principal.actor ?? .bootstrap) }
        verifier.keyChanged(key)
        return (key, secret)
    }

    /// Revokes a key of the principal's tenant; it is refused from the next request on.
    func revokeKey(id: String, principal: HTTPPrincipal) async throws(HTTPProblem) -> ApiKey {
        let engine = engine
        let key = try await call { () async throws(EngineError) in
            try await engine.revokeApiKey(tenantId: principal.tenantId, keyId: id, actor: principal.actor ?? .bootstrap)
        }
        verifier.keyChanged(key)
        return key
    }

    /// "Now" for a route's defaults (a query's range, a CloudEvent without a time, the console):
    /// the engine's clock, except in cluster mode, where `engine` is the meta engine whose clock
    /// is the stream time of the last meta record it applied, so the wall clock is used.
    func nowMilliseconds() -> Int64 {
        cluster == nil ? engine.options.clock() : EngineOptions.systemClock()
    }

    /// An entitlement check in cluster mode, by the customer's partition (here or on its
    /// owner, `ClusterAccess.checkEntitlement`); nil when not in cluster mode.
    func clusterCheck<Value: Sendable>(tenantId: String, meter: MeterReference, customerId: String, atMilliseconds: Int64?,
                                       answer: @escaping (EntitlementCheck) -> Value) async throws(HTTPProblem) -> Value? {
        guard let cluster else { return nil }
        do throws(RPCFailure) {
            return try await cluster.checkEntitlement(tenantId: tenantId, meter: meter, customerId: customerId, atMilliseconds: atMilliseconds, answer: answer)
        } catch {
            throw HTTPProblem(error)
        }
    }

    /// Usage of `query`: from the engine, or in cluster mode from the partitions (`ClusterAccess`).
    func usage(_ query: UsageQuery) async throws(HTTPProblem) -> ClusterAccess.Usage {
        if let cluster {
            do throws(RPCFailure) {
                return try await cluster.usage(query)
            } catch {
                throw HTTPProblem(error)
            }
        }
        let engine = engine
        return try await call { () async throws(EngineError) in
            let result = try await engine.usage(query)
            return (result.meter, result.rows)
        }
    }

    /// Current usage (billing period or running total at `at`) with its meter: from the engine,
    /// or in cluster mode from the partitions.
    func currentUsage(tenantId: String, meter: MeterReference, customerId: String?, at: Int64) async throws(HTTPProblem) -> (meter: Meter, row: UsageRow) {
        if let cluster {
            do throws(RPCFailure) {
                return try await cluster.currentUsage(tenantId: tenantId, meter: meter, customerId: customerId, atMilliseconds: at)
            } catch {
                throw HTTPProblem(error)
            }
        }
        let engine = engine
        return try await call { () async throws(EngineError) in
            try await engine.read { machine throws(MeterError) in
                (try machine.meter(tenantId: tenantId, meter), try machine.currentUsage(tenantId: tenantId, meter: meter, customerId: customerId, atMilliseconds: at))
            }
        }
    }

    /// Waits `refusalDelay` before a refusal is answered.
    func delayRefusal() async {
        if refusalDelay > .zero { try? await Task.sleep(for: refusalDelay) }
    }
}
