import HTTPTypes
import Hummingbird
import MeterCore
import MeterEngine
import MeterWire

/// Changing entitlements, grants and threshold rules over HTTP (admin), the same engine calls as
/// the binary protocol's methods 80-88 and meterctl:
///
/// - `PUT /api/v1/entitlements` `{"meter", "subject" (absent or null: the tenant-wide default),
///   "limit" (decimal string), "enforcement": "HARD" | "SOFT"}`: sets (creates or replaces) one.
/// - `DELETE /api/v1/entitlements?meter=M[&subject=S]`: removes one (no subject: the default).
/// - `POST /api/v1/grants` `{"meter", "subject", "amount", "effectiveFrom"?, "expiresAt"?}`;
///   `DELETE /api/v1/grants/{id}`.
/// - `GET /api/v1/thresholds[?meter=]`; `POST /api/v1/thresholds` `{"meter", "subject"?,
///   "value" | "percent"}`; `DELETE /api/v1/thresholds/{id}`.
///
/// Every body is parsed into an `EntitlementCommand` in synchronous code and the answer built on
/// the writer: no `ExactDecimal` is held across an `await` (see `EntitlementCommand`).
enum EntitlementChangeRoutes {
    static func register(on router: Hummingbird.Router<BasicRequestContext>, environment: MeterHTTPEnvironment) {
        router.put("api/v1/entitlements") { request, _ -> Response in
            await adminChange(request, environment: environment) { principal, request throws(HTTPProblem) in
                try setCommand(try await environment.jsonObject(&request, context: "the entitlement"), principal: principal)
            } answer: { change in change.entitlement.map(json) ?? "{}" }
        }
        router.delete("api/v1/entitlements") { request, _ -> Response in
            await adminChange(request, environment: environment) { principal, request throws(HTTPProblem) in
                let parameters = try QueryParameters(request, known: ["meter", "subject"])
                guard let meter = parameters["meter"], !meter.isEmpty else {
                    throw HTTPProblem(.invalidArgument, "name the meter: ?meter=ID or event name", reason: RejectionCode.invalidQuery.name)
                }
                let subject = parameters["subject"]
                return EntitlementCommand.removeEntitlement(tenantId: principal.tenantId, meter: MeterRoutes.reference(meter),
                                                            customerId: subject?.isEmpty == false ? subject : nil, actor: principal.actor ?? .bootstrap)
            } answer: { change in change.entitlement.map(json) ?? "{}" }
        }
        router.post("api/v1/grants") { request, _ -> Response in
            await adminChange(request, environment: environment, status: .created) { principal, request throws(HTTPProblem) in
                try grantCommand(try await environment.jsonObject(&request, context: "the grant"), principal: principal)
            } answer: { change in change.grant.map(json) ?? "{}" }
        }
        router.delete("api/v1/grants/:id") { request, context -> Response in
            await adminChange(request, environment: environment) { principal, _ in
                EntitlementCommand.removeGrant(tenantId: principal.tenantId, grantId: context.parameters.get("id") ?? "", actor: principal.actor ?? .bootstrap)
            } answer: { change in change.grant.map(json) ?? "{}" }
        }
        router.get("api/v1/thresholds") { request, _ -> Response in
            await answer { () throws(HTTPProblem) in
                try await EntitlementRoutes.listByMeter(request, environment: environment) { machine, tenantId, meterId in
                    JSONOutput.items(machine.thresholdRules(tenantId: tenantId, meterId: meterId), write)
                }
            }
        }
        router.post("api/v1/thresholds") { request, _ -> Response in
            await adminChange(request, environment: environment, status: .created) { principal, request throws(HTTPProblem) in
                try thresholdCommand(try await environment.jsonObject(&request, context: "the threshold rule"), principal: principal)
            } answer: { change in change.thresholdRule.map(json) ?? "{}" }
        }
        router.delete("api/v1/thresholds/:id") { request, context -> Response in
            await adminChange(request, environment: environment) { principal, _ in
                EntitlementCommand.removeThresholdRule(tenantId: principal.tenantId, ruleId: context.parameters.get("id") ?? "", actor: principal.actor ?? .bootstrap)
            } answer: { change in change.thresholdRule.map(json) ?? "{}" }
        }
    }

    /// An admin's change: `command` makes it from the request (its body or query parsed in
    /// synchronous code), it is written, and the JSON of what it changed is built on the writer.
    private static func adminChange(_ request: Request, environment: MeterHTTPEnvironment, status: HTTPResponse.Status = .ok,
                                    command: (HTTPPrincipal, inout Request) async throws(HTTPProblem) -> EntitlementCommand,
                                    answer json: @escaping (EntitlementChange) -> String) async -> Response {
        var request = request
        return await answer { () throws(HTTPProblem) in
            let principal = try await environment.principal(request, needs: .admin)
            let command = try await command(principal, &request)
            let text = try await call { () async throws(EngineError) in try await environment.engine.change(command, answer: json) }
            return jsonResponse(text, status: status)
        }
    }

    // MARK: Parsing (synchronous: the decimals never cross an await)

    private static func setCommand(_ fields: JSONFields, principal: HTTPPrincipal) throws(HTTPProblem) -> EntitlementCommand {
        try fields.refuseUnknown(allowed: ["meter", "subject", "limit", "enforcement"])
        let meter = try requiredString(fields, "meter")
        let limit = try decimal(fields, "limit", required: true)!
        let enforcementName = try fields.string("enforcement") ?? "HARD"
        guard let enforcement = EntitlementEnforcement.allCases.first(where: { $0.name == enforcementName.uppercased() }) else {
            throw HTTPProblem(.invalidArgument, "enforcement must be HARD or SOFT, got \"\(enforcementName.prefix(20))\"", reason: RejectionCode.invalidQuery.name)
        }
        let subject = try fields.string("subject")
        return EntitlementCommand.setEntitlement(tenantId: principal.tenantId, meter: MeterRoutes.reference(meter),
                                                 customerId: subject?.isEmpty == false ? subject : nil, limit: limit,
                                                 enforcement: enforcement, actor: principal.actor ?? .bootstrap)
    }

    private static func grantCommand(_ fields: JSONFields, principal: HTTPPrincipal) throws(HTTPProblem) -> EntitlementCommand {
        try fields.refuseUnknown(allowed: ["meter", "subject", "amount", "effectiveFrom", "expiresAt"])
        let meter = try requiredString(fields, "meter")
        let subject = try requiredString(fields, "subject")
        let amount = try decimal(fields, "amount", required: true)!
        return EntitlementCommand.addGrant(tenantId: principal.tenantId, meter: MeterRoutes.reference(meter), customerId: subject, amount: amount,
                                           effectiveFromMilliseconds: try time(fields, "effectiveFrom"), expiresAtMilliseconds: try time(fields, "expiresAt"),
                                           actor: principal.actor ?? .bootstrap)
    }

    private static func thresholdCommand(_ fields: JSONFields, principal: HTTPPrincipal) throws(HTTPProblem) -> EntitlementCommand {
        try fields.refuseUnknown(allowed: ["meter", "subject", "value", "percent"])
        let meter = try requiredString(fields, "meter")
        let value = try decimal(fields, "value", required: false)
        let percent = try decimal(fields, "percent", required: false)
        let level: ThresholdLevel
        switch (value, percent) {
        case (let value?, nil): level = .absolute(value)
        case (nil, let percent?): level = .percentOfEntitlement(percent)
        default:
            throw HTTPProblem(.invalidArgument, "give exactly one of \"value\" (usage) and \"percent\" (of the entitlement)", reason: RejectionCode.invalidQuery.name)
        }
        let subject = try fields.string("subject")
        return EntitlementCommand.addThresholdRule(tenantId: principal.tenantId, meter: MeterRoutes.reference(meter),
                                                   customerId: subject?.isEmpty == false ? subject : nil, level: level,
                                                   actor: principal.actor ?? .bootstrap)
    }

    private static func requiredString(_ fields: JSONFields, _ name: String) throws(HTTPProblem) -> String {
        guard let text = try fields.string(name), !text.isEmpty else {
            throw HTTPProblem(.invalidArgument, "\"\(name)\" is required", reason: RejectionCode.invalidQuery.name)
        }
        return text
    }

    /// A decimal given as a JSON string ("1500.5") or number (read exactly, never via Double).
    private static func decimal(_ fields: JSONFields, _ name: String, required: Bool) throws(HTTPProblem) -> ExactDecimal? {
        let text: String
        switch fields.value(name) {
        case nil, .null?:
            if required { throw HTTPProblem(.invalidArgument, "\"\(name)\" is required (a decimal such as \"1000\")", reason: RejectionCode.invalidQuery.name) }
            return nil
        case .string(let string)?: text = string
        case .number(let number)?: text = number
        case let other?:
            throw HTTPProblem(.invalidArgument, "\"\(name)\" must be a decimal (string or number), not \(other.kindDescription)", reason: RejectionCode.invalidQuery.name)
        }
        do {
            return try ExactDecimal(parsing: text)
        } catch {
            throw HTTPProblem(.invalidArgument, "\"\(name)\" \"\(text.prefix(40))\" is not a decimal with at most 9 fractional digits", reason: RejectionCode.invalidQuery.name)
        }
    }

    private static func time(_ fields: JSONFields, _ name: String) throws(HTTPProblem) -> Int64? {
        guard let text = try fields.string(name) else { return nil }
        guard let milliseconds = CivilTime.parseRFC3339(text) else {
            throw HTTPProblem(.invalidArgument, "\"\(name)\" \"\(text.prefix(40))\" is not an RFC 3339 time such as 2026-01-31T12:00:00Z", reason: RejectionCode.invalidQuery.name)
        }
        return milliseconds
    }

    // MARK: JSON

    private static func json(_ entitlement: Entitlement) -> String { JSONOutput.text(of: entitlement, EntitlementRoutes.write) }

    private static func json(_ grant: Grant) -> String { JSONOutput.text(of: grant, EntitlementRoutes.write) }

    private static func json(_ rule: ThresholdRule) -> String { JSONOutput.text(of: rule, write) }

    private static func write(_ rule: ThresholdRule, to output: inout JSONOutput) {
        output.beginObject()
        output.field("id", rule.id)
        output.field("meterId", rule.definition.meterId)
        output.field("subject", rule.definition.customerId)
        switch rule.definition.level {
        case .absolute(let value):
            output.field("value", value.description)
            output.field("percent", nil as String?)
        case .percentOfEntitlement(let percent):
            output.field("value", nil as String?)
            output.field("percent", percent.description)
        }
        output.field("createdAt", CivilTime.rfc3339(milliseconds: rule.createdAtMilliseconds))
        output.endObject()
    }
}
