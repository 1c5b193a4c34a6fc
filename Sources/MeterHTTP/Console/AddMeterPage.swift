import Hummingbird
import MeterCore
import MeterEngine
import MeterServer
import MeterWireServer

/// "Add Meter", field for field and help text for help text as the product guide
/// (shared/meter-guide.txt) describes it: Define Event Schema (event name, display name),
/// Event Filters (key and values), Define Aggregation (aggregation, aggregation value,
/// aggregation type with its period), Save Meter. Validation is the server's: the message of
/// the binary protocol's CreateMeter is shown next to the field it concerns.
enum AddMeterPage {
    static func submit(_ form: AddMeterForm, principal: HTTPPrincipal, environment: MeterHTTPEnvironment) async -> Response {
        do throws(RPCFailure) {
            let definition = try form.draft.definition(tenantId: principal.tenantId)
            let meter = try await environment.createMeter(definition, principal: principal)
            return HTML.redirect("/console/meters/\(meter.id)?created=1")
        } catch {
            let field = MeterDraft.field(for: error.reason)
            return render(principal: principal, form: form, errors: [field == "reset" ? "aggregation_type" : field: error.message], status: .unprocessableContent)
        }
    }

    static func render(principal: HTTPPrincipal, form: AddMeterForm, errors: [String: String], status: HTTPResponse.Status = .ok) -> Response {
        func error(_ field: String) -> String {
            errors[field].map { "<p class=\"field-error\" id=\"error-\(field)\" role=\"alert\">\(HTML.escape($0))</p>" } ?? ""
        }
        func invalid(_ field: String) -> String { errors[field] == nil ? "" : " invalid" }
        func option(_ value: String, _ label: String, selected: String) -> String {
            "<option value=\"\(value)\"\(value == selected ? " selected" : "")>\(label)</option>"
        }
        let filterRows = form.filters.map { row in
            """
            <div class="filter-row"><input type="text" name="filter_key" placeholder="Key, e.g. model" aria-label="Filter key" value="\(HTML.escape(row.key))">
            <input type="text" name="filter_values" placeholder="Values, e.g. llama3.1, llama3.2" aria-label="Filter values" value="\(HTML.escape(row.values))"></div>
            """
        }.joined()
        let aggregations = [("SUM", "SUM"), ("COUNT", "COUNT"), ("AVG", "AVG"), ("MIN", "MIN"), ("MAX", "MAX"), ("COUNT_UNIQUE", "COUNT_UNIQUE"), ("LATEST", "LATEST")]
            .map { option($0.0, $0.1, selected: form.aggregation) }.joined()
        let periods = [("DAILY", "Daily"), ("WEEKLY", "Weekly"), ("MONTHLY", "Monthly"), ("QUARTERLY", "Quarterly"), ("ANNUAL", "Annual")]
            .map { option($0.0, $0.1, selected: form.period) }.joined()
        let periodic = form.aggregationType != "CUMULATIVE"
        let body = """
            <h1>Add Meter</h1>
            \(error("form"))
            <form method="post" action="/console/meters" id="add-meter-form">
            <section class="card"><h2>Define Event Schema</h2>
            <div class="\(invalid("event_name"))"><label for="event_name">Event Name</label>
            <div class="help">This is the unique identifier you’ll use to send events that match the metric. Keep it short and descriptive—for example, <code>tokens_used</code> or <code>orders_placed</code>. Must be unique across your account to avoid confusion with other metrics.</div>
            <input type="text" id="event_name" name="event_name" required maxlength="64" autocapitalize="none" spellcheck="false" value="\(HTML.escape(form.eventName))" placeholder="tokens_used">
            \(error("event_name"))</div>
            <div class="\(invalid("display_name"))"><label for="display_name">Display Name</label>
            <div class="help">It is a user-friendly label (e.g., “Tokens Used” or “Orders Placed”) that will appear on invoices, internal dashboards, and usage reports. This helps you and your team instantly recognize what the metric measures—especially handy if you have several metrics.</div>
            <input type="text" id="display_name" name="display_name" required maxlength="128" value="\(HTML.escape(form.displayName))" placeholder="Tokens Used">
            \(error("display_name"))</div>
            </section>
            <section class="card\(invalid("filters"))"><h2>Event Filters (Optional)</h2>
            <div class="help">Filters let you narrow down which events get counted or summed in this metric. You do not have to add filters if you want to aggregate all events of a given type. However, filters become crucial if you need more granular control, such as billing for only certain AI models or distinguishing usage by environment.</div>
            <label>Key &amp; Values</label>
            <div class="help">A filter consists of a property key (e.g., <code>model</code>) and one or more values (e.g., <code>llama3.1, llama3.2</code>). Only events that match both the key and one of the values are included in the metric.</div>
            <div id="filters">\(filterRows)</div>
            <button type="button" class="secondary" id="add-filter">Add filter</button>
            <p class="help"><b>It is important to note that filters cannot be edited later, so decide up front if you’ll need them for billing or reporting.</b></p>
            \(error("filters"))
            </section>
            <section class="card"><h2>Define Aggregation</h2>
            <div class="help">The aggregation settings tell meterd how to measure your events.</div>
            <div class="\(invalid("aggregation"))"><label for="aggregation">Aggregation</label>
            <div class="help">Common options include SUM or COUNT.<ul><li>SUM: Adds a numeric property (like tokens, price, etc.) across all matching events.</li><li>COUNT: Counts the total number of matching events, regardless of any numeric value in the event data.</li></ul></div>
            <select id="aggregation" name="aggregation">\(aggregations)</select>
            <label for="aggregation_value">Aggregation Value</label>
            <div class="help">The property that meterd sums or evaluates. For SUM, this property should be numeric (e.g., <code>tokens</code>). If you choose COUNT, you typically don’t specify a numeric property (because you’re just counting occurrences).</div>
            <input type="text" id="aggregation_value" name="aggregation_value" value="\(HTML.escape(form.aggregationValue))" placeholder="tokens">
            \(error("aggregation"))</div>
            <div class="\(invalid("aggregation_type"))"><label>Aggregation Type</label>
            <div class="choices">
            <label><input type="radio" name="aggregation_type" value="CUMULATIVE" id="type_cumulative"\(periodic ? "" : " checked")> Cumulative</label>
            <label><input type="radio" name="aggregation_type" value="PERIODIC" id="type_periodic"\(periodic ? " checked" : "")> Periodic</label></div>
            <div class="help"><ul><li>Cumulative: The meter never resets. Usage keeps accumulating across billing cycles, providing a running total. This is useful for features like storage.</li>
            <li>Periodic: Usage resets at each billing period (e.g., monthly). This is ideal for most subscription-based models where usage is calculated anew every cycle.</li></ul></div>
            <div id="period-field"\(periodic ? "" : " hidden")><label for="period">Billing period</label><select id="period" name="period">\(periods)</select></div>
            \(error("aggregation_type"))</div>
            </section>
            <p><button type="submit" class="primary" id="save-meter">Save Meter</button></p>
            </form>
            <script>
            document.getElementById('add-filter').addEventListener('click', function () {
              var rows = document.getElementById('filters'); var row = rows.lastElementChild.cloneNode(true);
              row.querySelectorAll('input').forEach(function (input) { input.value = ''; }); rows.appendChild(row);
            });
            document.querySelectorAll('input[name=aggregation_type]').forEach(function (radio) {
              radio.addEventListener('change', function () { document.getElementById('period-field').hidden = !document.getElementById('type_periodic').checked; });
            });
            </script>
            """
        return HTML.page(title: "Add Meter", signedInAs: principal.name, body: body, status: status)
    }
}
