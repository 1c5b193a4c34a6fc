import Hummingbird
import MeterCore
import MeterEngine
import MeterWire

/// Entitlement checks, the entitlement list and the notification long poll over HTTP (read role
/// for the check and notifications, admin for the list). Changes: `EntitlementChangeRoutes`.
///
/// - `GET /api/v1/subjects/{subject}/entitlements/{meter}/value[?time=RFC3339]`: the check, in
///   the shape of OpenMeter's entitlement value (`hasAccess`, `balance`, `usage`, `overage`)
///   plus meterd's `limit`, `granted`, `enforcement` and period bounds.
/// - `GET /api/v1/entitlements[?meter=]`: the tenant's entitlements and grants.
/// - `GET /api/v1/notifications?after=N[&limit=][&waitMs=]`: notifications numbered above N,
///   waiting up to `waitMs` (at most 2000: an HTTP client loops) for one.
/// - `GET /api/v1/webhooks` (admin): webhook delivery state, as `meterctl webhooks`.
///
/// The JSON is built on the engine's writer (`answer:` closures), never holding an
/// `ExactDecimal` across an `await` (see `EntitlementCommand`).
enum EntitlementRoutes {
    static func register(on router: Hummingbird.Router<BasicRequestContext>, environment: MeterHTTPEnvironment) {
        registerWebhookStatus(on: router, environment: environment)
        router.get("api/v1/subjects/:subject/entitlements/:meter/value") { request, context -> Response in
            await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .read)
                let reference = try MeterRoutes.reference(context)
                let subject = context.parameters.get("subject") ?? ""
                let parameters = try QueryParameters(request, known: ["time"])
                let instant = try parameters.time("time")
                if let text = try await environment.clusterCheck(tenantId: principal.tenantId, meter: reference, customerId: subject,
                                                                 atMilliseconds: instant, answer: json) {
                    return jsonResponse(text)
                }
                let text = try await call { () async throws(EngineError) in
                    try await environment.engine.checkEntitlement(tenantId: principal.tenantId, meter: reference, customerId: subject,
                                                                  atMilliseconds: instant, answer: json)
                }
                return jsonResponse(text)
            }
        }
        router.get("api/v1/entitlements") { request, _ -> Response in
            await answer { () throws(HTTPProblem) in
                try await listByMeter(request, environment: environment) { machine, tenantId, meterId in
                    json(entitlements: machine.entitlements(tenantId: tenantId, meterId: meterId), grants: machine.grants(tenantId: tenantId, meterId: meterId))
                }
            }
        }
        router.get("api/v1/notifications") { request, _ -> Response in
            await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .read)
                if environment.cluster != nil {
                    throw HTTPProblem(.unavailable, "notifications are not listed over HTTP in cluster mode: they are numbered per partition; "
                                      + "list them with the binary protocol's ListNotifications (meterctl; docs/cluster.md)")
                }
                let parameters = try QueryParameters(request, known: ["after", "limit", "waitMs"])
                func number(_ name: String, maximum: UInt64) throws(HTTPProblem) -> UInt64? {
                    guard let text = parameters[name] else { return nil }
                    guard let value = UInt64(text), value <= maximum else {
                        throw HTTPProblem(.invalidArgument, "\(name) must be a whole number from 0 to \(maximum)", reason: RejectionCode.invalidQuery.name)
                    }
                    return value
                }
                let after = try number("after", maximum: UInt64(Int64.max)) ?? 0
                let limit = Int(try number("limit", maximum: 1000) ?? 100)
                let wait = Int64(try number("waitMs", maximum: 2_000) ?? 0)
                let text = try await call { () async throws(EngineError) in
                    try await environment.engine.notificationPage(tenantId: principal.tenantId, afterNumber: after, limit: Swift.max(limit, 1),
                                                                  waitMilliseconds: wait) { found, last in json(found, lastNumber: last) }
                }
                return jsonResponse(text)
            }
        }
    }

    static func registerWebhookStatus(on router: Hummingbird.Router<BasicRequestContext>, environment: MeterHTTPEnvironment) {
        router.get("api/v1/webhooks") { request, _ -> Response in
            await answer { () throws(HTTPProblem) in
                _ = try await environment.principal(request, needs: .admin)
                let last = try await call { () async throws(EngineError) in
                    try await environment.engine.read { machine in machine.lastNotificationNumber }
                }
                var output = JSONOutput()
                output.beginObject()
                output.field("lastNotificationNumber", integer: last)
                if let dispatcher = environment.webhooks?.current {
                    let status = dispatcher.status
                    output.field("enabled", boolean: true)
                    output.field("url", dispatcher.configuration.url.absoluteString)
                    output.field("deliveredThrough", integer: status.deliveredThrough)
                    output.field("delivered", integer: status.delivered)
                    output.field("failedAttempts", integer: status.failedAttempts)
                    output.field("deadLettered", integer: status.deadLettered)
                    output.array("deadLetters", status.deadLetterDetails) { letter, output in
                        output.beginObject()
                        output.field("number", integer: letter.number)
                        output.field("attempts", integer: letter.attempts)
                        output.field("lastError", letter.lastError)
                        output.endObject()
                    }
                } else {
                    output.field("enabled", boolean: false)
                }
                output.endObject()
                return jsonResponse(output.text)
            }
        }
    }

    /// An admin's list of the tenant's items, of one meter with `?meter=` (id or event name):
    /// `list` writes the JSON on the writer with that meter's id (nil: every meter).
    static func listByMeter(_ request: Request, environment: MeterHTTPEnvironment,
                            list: @escaping (MeterStateMachine, _ tenantId: String, _ meterId: String?) -> String) async throws(HTTPProblem) -> Response {
        let principal = try await environment.principal(request, needs: .admin)
        let meter = try QueryParameters(request, known: ["meter"])["meter"].map(MeterRoutes.reference)
        let tenantId = principal.tenantId
        let text = try await call { () async throws(EngineError) in
            try await environment.engine.read { machine throws(MeterError) in
                let meterId = try meter.map { reference throws(MeterError) in try machine.meter(tenantId: tenantId, reference).id }
                return list(machine, tenantId, meterId)
            }
        }
        return jsonResponse(text)
    }

    private static func time(_ milliseconds: Int64?) -> String? {
        milliseconds.map { CivilTime.rfc3339(milliseconds: $0) }
    }

    static func json(_ check: EntitlementCheck) -> String {
        var output = JSONOutput()
        output.beginObject()
        output.field("hasAccess", boolean: check.hasAccess)
        output.field("meterId", check.meterId)
        output.field("subject", check.customerId)
        output.field("enforcement", check.enforcement.name)
        output.field("isDefault", boolean: check.isDefault)
        output.field("usage", check.usage.description)
        output.field("limit", check.limit.description)
        output.field("granted", check.granted.description)
        output.field("balance", check.remaining.description)
        output.field("overage", check.overage.description)
        output.field("periodStart", time(check.periodStartMilliseconds))
        output.field("periodEnd", time(check.periodEndMilliseconds))
        output.field("time", CivilTime.rfc3339(milliseconds: check.atMilliseconds))
        output.endObject()
        return output.text
    }

    /// One entitlement as JSON (`subject` null for the tenant-wide default).
    static func write(_ entitlement: Entitlement, to output: inout JSONOutput) {
        output.beginObject()
        output.field("meterId", entitlement.definition.meterId)
        output.field("subject", entitlement.definition.customerId)
        output.field("limit", entitlement.definition.limit.description)
        output.field("enforcement", entitlement.definition.enforcement.name)
        output.field("updatedAt", CivilTime.rfc3339(milliseconds: entitlement.updatedAtMilliseconds))
        output.endObject()
    }

    /// One grant as JSON.
    static func write(_ grant: Grant, to output: inout JSONOutput) {
        output.beginObject()
        output.field("id", grant.id)
        output.field("meterId", grant.definition.meterId)
        output.field("subject", grant.definition.customerId)
        output.field("amount", grant.definition.amount.description)
        output.field("effectiveFrom", CivilTime.rfc3339(milliseconds: grant.definition.effectiveFromMilliseconds))
        output.field("expiresAt", time(grant.definition.expiresAtMilliseconds))
        output.endObject()
    }

    static func json(entitlements: [Entitlement], grants: [Grant]) -> String {
        var output = JSONOutput()
        output.beginObject()
        output.array("entitlements", entitlements, write)
        output.array("grants", grants, write)
        output.endObject()
        return output.text
    }

    static func json(_ notifications: [ThresholdNotification], lastNumber: UInt64) -> String {
        var output = JSONOutput()
        output.beginObject()
        output.array("notifications", notifications) { notification, output in
            output.beginObject()
            output.field("number", integer: notification.number)
            output.field("ruleId", notification.ruleId)
            output.field("meterId", notification.meterId)
            output.field("subject", notification.customerId)
            output.field("threshold", notification.threshold.description)
            output.field("usage", notification.usage.description)
            output.field("periodStart", time(notification.periodStartMilliseconds))
            output.field("periodEnd", time(notification.periodEndMilliseconds))
            output.field("sequence", integer: notification.sequence)
            output.field("time", CivilTime.rfc3339(milliseconds: notification.atMilliseconds))
            output.endObject()
        }
        output.field("lastNumber", integer: notifications.last?.number ?? lastNumber)
        output.endObject()
        return output.text
    }
}
