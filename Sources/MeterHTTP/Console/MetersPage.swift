import Hummingbird
import MeterCore
import MeterEngine

/// The meters list ("Billable Metrics"): each meter with its status, Add Meter at the top right.
enum MetersPage {
    static func render(principal: HTTPPrincipal, environment: MeterHTTPEnvironment, notice: String?) async -> Response {
        let tenantId = principal.tenantId
        let meters: [Meter]
        do {
            meters = try await environment.engine.read { machine in machine.meters(tenantId: tenantId, includeArchived: true) }
        } catch {
            return HTML.page(title: "Meters", signedInAs: principal.name, body: "<h1>Meters</h1><p class=\"field-error\">\(HTML.escape(error.description))</p>", status: .serviceUnavailable)
        }
        var rows = ""
        for meter in meters {
            let definition = meter.definition
            rows += """
                <tr data-event-name="\(HTML.escape(definition.eventName))"><td><a href="/console/meters/\(HTML.escape(meter.id))">\(HTML.escape(definition.displayName))</a></td>
                <td><code>\(HTML.escape(definition.eventName))</code></td><td>\(HTML.escape(aggregationText(definition.aggregation)))</td>
                <td class="hide-narrow">\(HTML.escape(resetText(definition.reset)))</td><td>\(statusBadge(meter))</td></tr>
                """
        }
        let table = meters.isEmpty
            ? "<p class=\"card\" id=\"no-meters\">No meters yet. Select <b>Add Meter</b> to create your first billable metric.</p>"
            : """
              <div class="scroll"><table id="meters"><thead><tr><th>Display name</th><th>Event name</th><th>Aggregation</th><th class="hide-narrow">Type</th><th>Status</th></tr></thead>
              <tbody>\(rows)</tbody></table></div>
              """
        let addButton = principal.role.allows(.admin) ? "<a class=\"button\" id=\"add-meter\" href=\"/console/meters/new\">Add Meter</a>" : ""
        return HTML.page(title: "Meters", signedInAs: principal.name, body: """
            <div class="toolbar"><h1>Billable metrics</h1>\(addButton)</div>
            \(notice.map { "<p class=\"notice\">\(HTML.escape($0))</p>" } ?? "")
            \(table)
            """)
    }

    static func statusBadge(_ meter: Meter) -> String {
        if meter.status == .archived { return "<span class=\"status archived\">Archived</span>" }
        if !meter.backfill.isComplete {
            let target = meter.backfill.targetSequence
            let done = meter.backfill.completedThroughSequence
            let percent = target == 0 ? 100 : Int(min(done, target) * 100 / target)
            return "<span class=\"status backfilling\">Backfilling \(percent)%</span>"
        }
        return "<span class=\"status active\">Active</span>"
    }

    static func aggregationText(_ aggregation: Aggregation) -> String {
        var text = aggregation.kind.rawValue
        if let field = aggregation.field { text += "(\(field))" }
        if let multiplier = aggregation.multiplier { text += " × \(multiplier)" }
        return text
    }

    static func resetText(_ reset: ResetPolicy) -> String {
        switch reset {
        case .cumulative: return "Cumulative"
        case .periodic(let period, _): return "Periodic, \(period.rawValue.lowercased())"
        }
    }
}
