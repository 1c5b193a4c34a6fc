import Hummingbird
import MeterClient
import MeterCore
import MeterEngine
import MeterServer
import MeterWire
import MeterWireServer

/// `/api/v1/meters`: list, get, create, update the display name, archive. Each calls the same
/// engine methods as the binary protocol's Admin service, with the same validation.
enum MeterRoutes {
    static let createMembers: Set<String> = ["eventName", "displayName", "filters", "aggregation", "valueProperty", "multiplier",
                                             "reset", "billingPeriod", "anchor", "groupBy"]

    static func register(on router: Hummingbird.Router<BasicRequestContext>, environment: MeterHTTPEnvironment) {
        router.get("api/v1/meters") { request, _ -> Response in
            await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .read)
                let includeArchived = request.uri.queryParameters["includeArchived"].map { $0 == "true" } ?? true
                let meters = try await call { () async throws(EngineError) in
                    try await environment.engine.read { machine in machine.meters(tenantId: principal.tenantId, includeArchived: includeArchived) }
                }
                return jsonResponse(JSONOutput.items(meters, MeterJSON.write))
            }
        }
        router.post("api/v1/meters") { request, _ -> Response in
            var request = request
            return await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .admin)
                let fields = try await environment.jsonObject(&request, context: "the meter")
                try fields.refuseUnknown(allowed: createMembers)
                let draft = try draft(fields)
                let definition: MeterDefinition
                do throws(RPCFailure) {
                    definition = try draft.definition(tenantId: principal.tenantId)
                } catch {
                    throw HTTPProblem(error)
                }
                let meter: Meter
                do throws(RPCFailure) {
                    meter = try await environment.createMeter(definition, principal: principal)
                } catch {
                    throw HTTPProblem(error)
                }
                var response = jsonResponse(MeterJSON.text(meter), status: .created)
                response.headers[.location] = "/api/v1/meters/\(meter.id)"
                return response
            }
        }
        router.get("api/v1/meters/:meter") { request, context -> Response in
            await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .read)
                let reference = try reference(context)
                let meter = try await call { () async throws(EngineError) in try await environment.engine.meter(tenantId: principal.tenantId, reference) }
                return jsonResponse(MeterJSON.text(meter))
            }
        }
        router.patch("api/v1/meters/:meter") { request, context -> Response in
            var request = request
            return await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .admin)
                let reference = try reference(context)
                let fields = try await environment.jsonObject(&request, context: "the update")
                let immutable = fields.keys.filter { createMembers.contains($0) && $0 != "displayName" }
                guard immutable.isEmpty else {
                    throw HTTPProblem(.failedPrecondition,
                                      "\(immutable.joined(separator: ", ")) cannot be changed after creation (event name, filters, aggregation, reset and group-by are immutable); archive this meter and create a new one, which backfills retained events",
                                      reason: RejectionCode.immutableField.name)
                }
                try fields.refuseUnknown(allowed: ["displayName"])
                guard let displayName = try fields.string("displayName"), !displayName.isEmpty else {
                    throw HTTPProblem(.invalidArgument, "display_name is the only field that can change; give a new one", reason: RejectionCode.invalidDisplayName.name)
                }
                let meter = try await call { () async throws(EngineError) in
                    try await environment.engine.updateDisplayName(tenantId: principal.tenantId, meter: reference, displayName: displayName, actor: principal.actor)
                }
                return jsonResponse(MeterJSON.text(meter))
            }
        }
        router.delete("api/v1/meters/:meter") { request, context -> Response in
            await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .admin)
                let reference = try reference(context)
                let meter = try await call { () async throws(EngineError) in
                    try await environment.engine.archiveMeter(tenantId: principal.tenantId, meter: reference, actor: principal.actor)
                }
                return jsonResponse(MeterJSON.text(meter))
            }
        }
    }

    /// `mtr_<digits>` names a meter by id; anything else by event name.
    static func reference(_ context: BasicRequestContext) throws(HTTPProblem) -> MeterReference {
        guard let text = context.parameters.get("meter"), !text.isEmpty else {
            throw HTTPProblem(.invalidArgument, "name the meter by id or by event name", reason: RejectionCode.invalidQuery.name)
        }
        return reference(text)
    }

    static func reference(_ text: String) -> MeterReference {
        if text.hasPrefix("mtr_"), text.count > 4, text.dropFirst(4).allSatisfy(\.isNumber) { return .id(text) }
        return .eventName(text)
    }

    static func draft(_ fields: JSONFields) throws(HTTPProblem) -> MeterDraft {
        var draft = MeterDraft()
        draft.eventName = try fields.string("eventName") ?? ""
        draft.displayName = try fields.string("displayName") ?? ""
        draft.aggregation = try fields.string("aggregation") ?? ""
        draft.valueProperty = try fields.string("valueProperty") ?? ""
        draft.multiplier = try fields.string("multiplier") ?? ""
        draft.reset = try fields.string("reset") ?? ""
        draft.billingPeriod = try fields.string("billingPeriod") ?? ""
        draft.anchor = try fields.string("anchor") ?? ""
        draft.groupBy = try fields.strings("groupBy")
        switch fields.value("filters") {
        case nil, .null?: break
        case .array(let items)?:
            for item in items {
                let filter = try JSONFields(item, context: "a filter")
                try filter.refuseUnknown(allowed: ["key", "values"])
                draft.filters.append(MeterFilter(key: try filter.string("key") ?? "", values: try filter.strings("values")))
            }
        case let other?:
            throw HTTPProblem(.invalidArgument, "\"filters\" must be an array of {\"key\", \"values\"} objects, not \(other.kindDescription)", reason: RejectionCode.invalidFilter.name)
        }
        return draft
    }
}

/// Runs a route body; a thrown problem becomes its problem+json response.
func answer(_ body: () async throws(HTTPProblem) -> Response) async -> Response {
    do throws(HTTPProblem) {
        return try await body()
    } catch {
        return error.response
    }
}

/// Runs an engine call; an `EngineError` becomes the problem with the binary protocol's status, reason and message.
func call<Value>(_ body: () async throws(EngineError) -> Value) async throws(HTTPProblem) -> Value {
    do throws(EngineError) {
        return try await body()
    } catch {
        throw HTTPProblem(error)
    }
}
