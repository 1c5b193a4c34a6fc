import Hummingbird
import MeterCore
import MeterEngine
import MeterServer

/// One meter: its definition, usage over time (SVG, drawn here), the top customers of the
/// current period, and a per-customer drill-down (`?customer=`). `?range=` is 24h (hourly
/// bars, the default), 7d or 30d (daily bars).
enum MeterPage {
    static func render(meter text: String, request: Request, principal: HTTPPrincipal, environment: MeterHTTPEnvironment) async -> Response {
        let parameters = QueryParameters(request)
        let customer = parameters["customer"].flatMap { $0.isEmpty ? nil : $0 }
        let range = parameters["range"] ?? "24h"
        let reference = MeterRoutes.reference(text)
        let tenantId = principal.tenantId
        let now = environment.nowMilliseconds()
        let hour: Int64 = 3_600_000
        let day: Int64 = 86_400_000
        let (windowSize, count, unit): (WindowSize, Int64, Int64) = switch range {
        case "7d": (.day, 7, day)
        case "30d": (.day, 30, day)
        default: (.hour, 24, hour)
        }
        let to = (now / unit + 1) * unit
        let from = to - count * unit
        // Partitioned cluster mode: the same three questions, each answered by the partitions.
        func loadFromPartitions() async throws(HTTPProblem) -> (Meter, ClusterAccess.Usage, UsageRow, ClusterAccess.Usage) {
            let (meter, current) = try await environment.currentUsage(tenantId: tenantId, meter: reference, customerId: customer, at: now)
            let series = try await environment.usage(UsageQuery(tenantId: tenantId, meter: .id(meter.id), fromMilliseconds: from, toMilliseconds: to,
                                                                windowSize: windowSize, customerId: customer))
            let customers = try await environment.usage(UsageQuery(tenantId: tenantId, meter: .id(meter.id), fromMilliseconds: current.windowStartMilliseconds,
                                                                   toMilliseconds: current.windowEndMilliseconds, groupByCustomer: true))
            return (meter, series, current, customers)
        }
        func load() async throws(HTTPProblem) -> (Meter, ClusterAccess.Usage, UsageRow, ClusterAccess.Usage) {
            try await call { () async throws(EngineError) in
                try await environment.engine.read { machine throws(MeterError) in
                    let meter = try machine.meter(tenantId: tenantId, reference)
                    let series = try machine.usage(UsageQuery(tenantId: tenantId, meter: .id(meter.id), fromMilliseconds: from, toMilliseconds: to,
                                                              windowSize: windowSize, customerId: customer))
                    let current = try machine.currentUsage(tenantId: tenantId, meter: .id(meter.id), customerId: customer, atMilliseconds: now)
                    let customers = try machine.usage(UsageQuery(tenantId: tenantId, meter: .id(meter.id), fromMilliseconds: current.windowStartMilliseconds,
                                                                 toMilliseconds: current.windowEndMilliseconds, groupByCustomer: true))
                    return (meter, (series.meter, series.rows), current, (customers.meter, customers.rows))
                }
            }
        }
        let loaded: (Meter, ClusterAccess.Usage, UsageRow, ClusterAccess.Usage)
        do throws(HTTPProblem) {
            loaded = try await environment.cluster == nil ? load() : loadFromPartitions()
        } catch {
            return HTML.page(title: "Meter", signedInAs: principal.name,
                             body: "<h1>Meter</h1><p class=\"card field-error\" id=\"meter-error\">\(HTML.escape(error.detail))</p>",
                             status: error.httpStatus)
        }
        let (meter, series, current, customers) = loaded
        let definition = meter.definition
        let created = parameters["created"] != nil
            ? "<p class=\"notice\" id=\"created-notice\">Meter saved. It is <b>\(meter.status == .active ? "Active" : "Archived")</b>: send events named <code>\(HTML.escape(definition.eventName))</code> and they are aggregated at once.</p>" : ""
        let filters = definition.filters.isEmpty ? "none" : definition.filters.map { "\(HTML.escape($0.key)) in \(HTML.escape($0.values.joined(separator: ", ")))" }.joined(separator: "; ")
        let points = series.rows.map { (start: $0.windowStartMilliseconds, value: $0.value ?? .zero) }
        let chart = UsageChart.svg(points: points) { milliseconds in
            let text = CivilTime.rfc3339(milliseconds: milliseconds)
            return windowSize == .hour ? String(text.dropFirst(11).prefix(5)) : String(text.prefix(10))
        }
        let topRows = customers.rows.filter { $0.customerId != nil }
            .sorted { ($0.value ?? .zero) > ($1.value ?? .zero) }.prefix(10)
            .map { row in
                let name = row.customerId ?? ""
                return "<tr><td><a href=\"?customer=\(FormDecoding.encode(name))&amp;range=\(FormDecoding.encode(range))\">\(HTML.escape(name))</a></td><td class=\"value\">\(HTML.escape(row.value?.description ?? "0"))</td><td>\(row.eventCount)</td></tr>"
            }.joined()
        let rangeLinks = [("24h", "Last 24 hours"), ("7d", "7 days"), ("30d", "30 days")].map { key, label in
            key == range ? "<b>\(label)</b>" : "<a href=\"?range=\(key)\(customer.map { "&amp;customer=\(FormDecoding.encode($0))" } ?? "")\">\(label)</a>"
        }.joined(separator: " · ")
        let body = """
            \(created)
            <div class="toolbar"><h1 id="meter-title">\(HTML.escape(definition.displayName))</h1>\(MetersPage.statusBadge(meter))</div>
            <section class="card"><dl id="definition">
            <dt>Event name</dt><dd><code>\(HTML.escape(definition.eventName))</code></dd>
            <dt>Meter id</dt><dd><code>\(HTML.escape(meter.id))</code></dd>
            <dt>Filters</dt><dd>\(filters)</dd>
            <dt>Aggregation</dt><dd>\(HTML.escape(MetersPage.aggregationText(definition.aggregation)))</dd>
            <dt>Aggregation type</dt><dd>\(HTML.escape(MetersPage.resetText(definition.reset)))</dd>
            <dt>Events</dt><dd>\(meter.counters.counted) counted, \(meter.counters.filteredOut) filtered out, \(meter.counters.missingValue) without a value</dd>
            </dl></section>
            <section class="card"><h2>Usage\(customer.map { " of <span id=\"drill-customer\">\(HTML.escape($0))</span> (<a href=\"?range=\(FormDecoding.encode(range))\">all customers</a>)" } ?? "")</h2>
            <p>\(rangeLinks)</p>
            <p>Current \(definition.reset == .cumulative ? "running total" : "billing period") (\(HTML.escape(CivilTime.rfc3339(milliseconds: current.windowStartMilliseconds))) to \(HTML.escape(CivilTime.rfc3339(milliseconds: current.windowEndMilliseconds)))): <b id="current-usage">\(HTML.escape(current.value?.description ?? "0"))</b> from \(current.eventCount) events</p>
            \(chart)
            </section>
            <section class="card"><h2>Top customers this period</h2>
            \(topRows.isEmpty ? "<p>No usage in this period yet.</p>" : "<div class=\"scroll\"><table id=\"top-customers\"><thead><tr><th>Customer</th><th>Usage</th><th>Events</th></tr></thead><tbody>\(topRows)</tbody></table></div>")
            </section>
            """
        return HTML.page(title: definition.displayName, signedInAs: principal.name, body: body)
    }
}
