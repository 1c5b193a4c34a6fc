import Hummingbird
import MeterCore
import MeterEngine

/// The event debugger: the last events this server received over HTTP (RecentEventLog, in
/// memory, never the log), newest first, searchable by customer, event name and id, each with
/// what became of it: counted by its meter, filtered out, no active meter, duplicate, rejected
/// with the reason.
enum EventDebuggerPage {
    static func render(request: Request, principal: HTTPPrincipal, environment: MeterHTTPEnvironment) -> Response {
        let search = QueryParameters(request)["q"]?.trimmingCharacters(in: .whitespaces) ?? ""
        var entries = environment.recentEvents.entries(tenantId: principal.tenantId)
        if !search.isEmpty {
            entries = entries.filter { $0.customerId.contains(search) || $0.eventName.contains(search) || $0.eventId.contains(search) }
        }
        let rows = entries.prefix(200).map { entry in
            let properties = entry.properties.map { "\($0.key)=\($0.value.canonicalText)" }.joined(separator: ", ")
            return """
                <tr><td class="hide-narrow">\(HTML.escape(CivilTime.rfc3339(milliseconds: entry.receivedAtMilliseconds))) (\(HTML.escape(entry.transport)))</td><td><code>\(HTML.escape(entry.eventId))</code></td>
                <td><code>\(HTML.escape(entry.eventName))</code></td><td>\(HTML.escape(entry.customerId))</td>
                <td class="hide-narrow">\(HTML.escape(properties))</td><td>\(outcome(entry.result))</td></tr>
                """
        }.joined()
        let body = """
            <h1>Event debugger</h1>
            <p class="help">The last \(environment.recentEvents.capacity) events received over HTTP and the binary protocol, newest first, and what became of each. Kept in memory only: a restart empties it.</p>
            <form method="get" action="/console/events" class="toolbar"><input type="text" name="q" id="search" value="\(HTML.escape(search))" placeholder="Customer, event name or id"><button type="submit" class="secondary">Search</button></form>
            \(rows.isEmpty ? "<p class=\"card\">No events received yet.</p>" : "<div class=\"scroll\"><table id=\"events\"><thead><tr><th class=\"hide-narrow\">Received</th><th>Id</th><th>Event name</th><th>Customer</th><th class=\"hide-narrow\">Data</th><th>Outcome</th></tr></thead><tbody>\(rows)</tbody></table></div>")
            """
        return HTML.page(title: "Event debugger", signedInAs: principal.name, body: body)
    }

    static func outcome(_ result: EventResult) -> String {
        switch result {
        case .accepted(.counted): return "<span class=\"status active\">Accepted: counted</span>"
        case .accepted(.filteredOut): return "<span class=\"status filtered\">Accepted: filtered out by the meter's filters</span>"
        case .accepted(.noActiveMeter): return "<span class=\"status filtered\">Accepted: no active meter has this event name (kept for a future meter's backfill)</span>"
        case .accepted(.missingValue): return "<span class=\"status filtered\">Accepted: not counted, the aggregated property is missing or not a number</span>"
        case .accepted(.overflow): return "<span class=\"status rejected\">Accepted: not counted, the sum would overflow</span>"
        case .accepted(.duplicate), .duplicate: return "<span class=\"status duplicate\">Duplicate: id already accepted, nothing changed</span>"
        case .rejected(let error): return "<span class=\"status rejected\">Rejected: \(HTML.escape(error.code.name))</span> \(HTML.escape(error.message))"
        }
    }
}
