import Hummingbird
import MeterClient
import MeterCore
import MeterEngine
import MeterProto
import MeterWire
import MeterWireServer

/// `POST /api/v1/events`: one CloudEvent (`application/cloudevents+json`) or a batch
/// (`application/cloudevents-batch+json`, an array), sent to the engine like the binary
/// protocol's Ingest and IngestBatch. A batch answers one result per event, in order; a bad
/// event is rejected alone. Plain `application/json` takes either shape.
///
/// `?entitlement_effects=true` adds to each accepted result on a meter with an entitlement for
/// its customer an `entitlement` object (`hasAccess`, `usage`, `limit`, `remaining`, `crossed`):
/// the entitlement right after that event, as IngestBatch's `include_entitlement_effects`.
enum EventRoutes {
    static func register(on router: Hummingbird.Router<BasicRequestContext>, environment: MeterHTTPEnvironment) {
        router.post("api/v1/events") { request, _ -> Response in
            var request = request
            return await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .ingest)
                let parameters = try QueryParameters(request, known: ["entitlement_effects"])
                let wantsEffects: Bool
                switch parameters["entitlement_effects"] {
                case nil, "false"?: wantsEffects = false
                case "true"?: wantsEffects = true
                case let other?: throw HTTPProblem(.invalidArgument, "entitlement_effects must be true or false, got \"\(other.prefix(20))\"")
                }
                let mediaType = (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
                let value = try JSONFields.parse(try await environment.body(&request))
                let isBatch: Bool
                switch (mediaType, value) {
                case ("application/cloudevents-batch+json", .array), ("application/json", .array): isBatch = true
                case ("application/cloudevents+json", .object), ("application/json", .object): isBatch = false
                case ("application/cloudevents-batch+json", _):
                    throw HTTPProblem(.invalidArgument, "application/cloudevents-batch+json takes a JSON array of events, not \(value.kindDescription)")
                case ("application/cloudevents+json", _):
                    throw HTTPProblem(.invalidArgument, "application/cloudevents+json takes one event as a JSON object, not \(value.kindDescription); send arrays as application/cloudevents-batch+json")
                default:
                    throw HTTPProblem(.invalidArgument, "Content-Type must be application/cloudevents+json (one event) or application/cloudevents-batch+json (an array), got \"\(mediaType.prefix(60))\"")
                }
                let items: [ExactJSONValue]
                if case .array(let array) = value { items = array } else { items = [value] }
                guard items.count <= environment.maximumBatchEvents else {
                    throw HTTPProblem(.invalidArgument, "a batch holds at most \(environment.maximumBatchEvents) events, got \(items.count); split it", reason: RejectionCode.batchTooLarge.name)
                }
                if let refusal = environment.quotas?.admitEvents(items.count, tenantId: principal.tenantId) { throw HTTPProblem(refusal) }
                let now = environment.nowMilliseconds()
                let decoded = items.map { CloudEventDecoder.event($0, nowMilliseconds: now) }
                let (results, effects) = wantsEffects
                    ? try await ingestWithEffects(decoded, tenantId: principal.tenantId, environment: environment)
                    : (try await ingest(decoded, tenantId: principal.tenantId, environment: environment), [])
                environment.metrics?.record(results, tenantId: principal.tenantId)
                record(items: items, decoded: decoded, results: results, tenantId: principal.tenantId, now: now, log: environment.recentEvents)
                if isBatch { return jsonResponse(batchJSON(items: items, results: results, effects: effects)) }
                if case .rejected(let error) = results[0] { throw HTTPProblem(.invalidArgument, error.message, reason: error.code.name) }
                var output = JSONOutput()
                writeResult(results[0], id: eventId(items[0]), index: nil, effect: effects.first ?? nil, to: &output)
                return jsonResponse(output.text)
            }
        }
    }

    /// Sends the events that decoded to the engine and puts the results back in request order.
    static func ingest(_ decoded: [Result<UsageEvent, MeterError>], tenantId: String, environment: MeterHTTPEnvironment) async throws(HTTPProblem) -> [EventResult] {
        if let cluster = environment.cluster {
            // Each event through its partition, here or forwarded (results in request order).
            switch await cluster.ingest(decoded, tenantId: tenantId) {
            case .success(let results): return results
            case .failure(let failure): throw HTTPProblem(failure)
            }
        }
        let events = decoded.compactMap { try? $0.get() }
        let engineResults: [EventResult] = events.isEmpty ? [] : try await call { () async throws(EngineError) in
            try await environment.engine.ingest(tenantId: tenantId, events: events)
        }
        var next = engineResults.makeIterator()
        return decoded.map { item in
            switch item {
            case .success: return next.next()!
            case .failure(let error): return .rejected(error)
            }
        }
    }

    /// `ingest` asking for entitlement effects: the engine's completion form, the effects turned
    /// into text there (so no `ExactDecimal` lives in this async frame; see `EntitlementCommand`).
    static func ingestWithEffects(_ decoded: [Result<UsageEvent, MeterError>], tenantId: String,
                                  environment: MeterHTTPEnvironment) async throws(HTTPProblem) -> ([EventResult], [EffectText?]) {
        if let cluster = environment.cluster {
            // Cluster mode: decided where each event's partition is applied (here or its owner).
            switch await cluster.ingestWithEffects(decoded, tenantId: tenantId) {
            case .success(let answered): return (answered.map(\.result), answered.map { $0.effect.map(EffectText.init) })
            case .failure(let failure): throw HTTPProblem(failure)
            }
        }
        let events = decoded.compactMap { try? $0.get() }
        var engineResults: [EventResult] = []
        var engineEffects: [EffectText?] = []
        if !events.isEmpty {
            let sink = EntitlementEffects()
            let answer: Result<([EventResult], [EffectText?]), EngineError> = await withCheckedContinuation { continuation in
                environment.engine.ingest(tenantId: tenantId, events: events, entitlementEffects: sink) { result in
                    continuation.resume(returning: result.map { ($0, sink.effects.map { $0.map(EffectText.init) }) })
                }
            }
            switch answer {
            case .success(let value): (engineResults, engineEffects) = value
            case .failure(let error): throw HTTPProblem(error)
            }
        }
        var nextResult = engineResults.makeIterator()
        var nextEffect = engineEffects.makeIterator()
        var results: [EventResult] = []
        var effects: [EffectText?] = []
        for item in decoded {
            switch item {
            case .success:
                results.append(nextResult.next()!)
                effects.append(nextEffect.next() ?? nil)
            case .failure(let error):
                results.append(.rejected(error))
                effects.append(nil)
            }
        }
        return (results, effects)
    }

    /// An entitlement effect as the JSON writes it.
    struct EffectText: Sendable {
        var hasAccess: Bool
        var usage: String
        var limit: String
        var remaining: String
        var crossed: Bool

        /// An effect decided on the partition's owner (cluster mode), as the wire carries it.
        init(_ proto: Meterd_V1_EntitlementEffect) {
            hasAccess = proto.hasAccess_p
            usage = proto.usage
            limit = proto.limit
            remaining = proto.remaining
            crossed = proto.crossed
        }

        init(_ effect: EntitlementEffect) {
            hasAccess = effect.hasAccess
            usage = effect.usage.description
            limit = effect.limit.description
            remaining = effect.remaining.description
            crossed = effect.crossed
        }
    }

    static func batchJSON(items: [ExactJSONValue], results: [EventResult], effects: [EffectText?] = []) -> String {
        var output = JSONOutput()
        var counts = (accepted: 0, duplicates: 0, rejected: 0)
        output.beginObject()
        output.key("results")
        output.beginArray()
        for (index, result) in results.enumerated() {
            switch MeterJSON.names(result).status {
            case "ACCEPTED": counts.accepted += 1
            case "DUPLICATE": counts.duplicates += 1
            default: counts.rejected += 1
            }
            writeResult(result, id: eventId(items[index]), index: index, effect: index < effects.count ? effects[index] : nil, to: &output)
        }
        output.endArray()
        output.field("accepted", integer: counts.accepted)
        output.field("duplicates", integer: counts.duplicates)
        output.field("rejected", integer: counts.rejected)
        output.endObject()
        return output.text
    }

    static func writeResult(_ result: EventResult, id: String?, index: Int?, effect: EffectText? = nil, to output: inout JSONOutput) {
        let names = MeterJSON.names(result)
        output.beginObject()
        if let index { output.field("index", integer: index) }
        output.field("id", id)
        output.field("status", names.status)
        if let outcome = names.outcome { output.field("outcome", outcome) }
        if case .rejected(let error) = result {
            output.field("reason", error.code.name)
            output.field("message", error.message)
        }
        if let effect, case .accepted(let outcome) = result, outcome != .duplicate {
            output.object("entitlement") { output in
                output.field("hasAccess", boolean: effect.hasAccess)
                output.field("usage", effect.usage)
                output.field("limit", effect.limit)
                output.field("remaining", effect.remaining)
                output.field("crossed", boolean: effect.crossed)
            }
        }
        output.endObject()
    }

    static func eventId(_ value: ExactJSONValue) -> String? {
        guard case .object(let members) = value, case .string(let id)? = members.first(where: { $0.key == "id" })?.value else { return nil }
        return id
    }

    static func record(items: [ExactJSONValue], decoded: [Result<UsageEvent, MeterError>], results: [EventResult], tenantId: String, now: Int64, log: RecentEventLog) {
        var entries: [RecentEvent] = []
        entries.reserveCapacity(results.count)
        for index in results.indices {
            let event = try? decoded[index].get()
            var eventName = event?.eventName ?? ""
            var customerId = event?.customerId ?? ""
            if event == nil, case .object(let members) = items[index] {
                if case .string(let text)? = members.first(where: { $0.key == "type" })?.value { eventName = text }
                if case .string(let text)? = members.first(where: { $0.key == "subject" })?.value { customerId = text }
            }
            entries.append(RecentEvent(
                tenantId: tenantId, receivedAtMilliseconds: now, transport: "http", eventId: event?.eventId ?? eventId(items[index]) ?? "",
                eventName: eventName, customerId: customerId, timestampMilliseconds: event?.timestampMilliseconds,
                properties: event?.properties ?? [], result: results[index]))
        }
        log.record(entries)
    }
}
