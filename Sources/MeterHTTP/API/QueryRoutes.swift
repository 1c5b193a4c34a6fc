import Hummingbird
import MeterCore
import MeterEngine
import MeterServer
import MeterWire

/// `GET /api/v1/meters/{event name or id}/query`: usage in windows, as OpenMeter's meter query.
/// `from` and `to` are RFC 3339 whole minutes (defaults: `to` the next whole minute, `from` 24
/// hours before it); `windowSize` MINUTE, HOUR, DAY, MONTH (or meterd's other sizes; absent:
/// one window); `subject` one customer; `groupBy` repeated (`subject` groups by customer);
/// `filterGroupBy[KEY]=VALUE` keeps rows whose group-by key has that value. Values are decimal
/// strings.
enum QueryRoutes {
    static func register(on router: Hummingbird.Router<BasicRequestContext>, environment: MeterHTTPEnvironment) {
        router.get("api/v1/meters/:meter/query") { request, context -> Response in
            await answer { () throws(HTTPProblem) in
                let principal = try await environment.principal(request, needs: .read)
                let reference = try MeterRoutes.reference(context)
                let query = try usageQuery(QueryParameters(request), tenantId: principal.tenantId, meter: reference, now: environment.nowMilliseconds())
                let result = try await environment.usage(query)
                return jsonResponse(json(query: query, result: result))
            }
        }
    }

    static let knownParameters: Set<String> = ["from", "to", "windowSize", "subject", "groupBy"]

    static func usageQuery(_ parameters: QueryParameters, tenantId: String, meter: MeterReference, now: Int64) throws(HTTPProblem) -> UsageQuery {
        for (key, _) in parameters.pairs where !knownParameters.contains(key) && !(key.hasPrefix("filterGroupBy[") && key.hasSuffix("]")) {
            throw HTTPProblem(.invalidArgument, "unknown query parameter \"\(key.prefix(40))\"; known: from, to, windowSize, subject, groupBy, filterGroupBy[KEY]", reason: RejectionCode.invalidQuery.name)
        }
        let minute: Int64 = 60_000
        let to = try parameters.time("to") ?? ((now / minute) + 1) * minute
        let from = try parameters.time("from") ?? to - 24 * 60 * minute
        var windowSize: WindowSize?
        if let text = parameters["windowSize"] {
            guard let size = WindowSize(rawValue: text.uppercased()) else {
                throw HTTPProblem(.invalidArgument, "windowSize \"\(text.prefix(20))\" is not one of MINUTE, HOUR, DAY, MONTH (or \(WindowSize.allCases.map(\.rawValue).joined(separator: ", ")))", reason: RejectionCode.invalidQuery.name)
            }
            windowSize = size
        }
        let subjects = parameters.all("subject")
        guard subjects.count <= 1 else {
            throw HTTPProblem(.invalidArgument, "give at most one subject; to see every customer, group by subject instead", reason: RejectionCode.invalidQuery.name)
        }
        var groupBy = parameters.all("groupBy")
        let groupByCustomer = groupBy.contains("subject")
        groupBy.removeAll { $0 == "subject" }
        var filters: [MeterFilter] = []
        for (key, value) in parameters.pairs where key.hasPrefix("filterGroupBy[") {
            let name = String(key.dropFirst("filterGroupBy[".count).dropLast())
            if let index = filters.firstIndex(where: { $0.key == name }) {
                filters[index].values.append(value)
            } else {
                filters.append(MeterFilter(key: name, values: [value]))
            }
        }
        return UsageQuery(tenantId: tenantId, meter: meter, fromMilliseconds: from, toMilliseconds: to, windowSize: windowSize,
                          customerId: subjects.first, groupByCustomer: groupByCustomer, groupBy: groupBy, groupFilters: filters)
    }

    static func json(query: UsageQuery, result: ClusterAccess.Usage) -> String {
        var output = JSONOutput()
        output.beginObject()
        output.field("meterId", result.meter.id)
        output.field("eventName", result.meter.definition.eventName)
        output.field("aggregation", result.meter.definition.aggregation.kind.rawValue)
        output.field("from", CivilTime.rfc3339(milliseconds: query.fromMilliseconds))
        output.field("to", CivilTime.rfc3339(milliseconds: query.toMilliseconds))
        output.field("windowSize", query.windowSize?.rawValue)
        output.array("data", result.rows) { row, output in
            output.beginObject()
            output.field("value", row.value?.description)
            output.field("eventCount", integer: row.eventCount)
            output.field("windowStart", CivilTime.rfc3339(milliseconds: row.windowStartMilliseconds))
            output.field("windowEnd", CivilTime.rfc3339(milliseconds: row.windowEndMilliseconds))
            output.field("subject", row.customerId)
            output.object("groupBy") { output in
                for value in row.group { output.field(value.key, value.value) }
            }
            output.endObject()
        }
        output.endObject()
        return output.text
    }
}
