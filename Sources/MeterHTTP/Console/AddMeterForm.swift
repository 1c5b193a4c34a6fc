import MeterCore

/// The Add Meter form's fields as typed, kept to show them again next to the server's messages.
struct AddMeterForm: Equatable {
    var eventName = ""
    var displayName = ""
    /// Key and comma-separated values per row, including empty rows.
    var filters: [(key: String, values: String)] = [("", ""), ("", "")]
    var aggregation = "SUM"
    var aggregationValue = ""
    var aggregationType = "PERIODIC"
    var period = "MONTHLY"

    init() {}

    init(pairs: [(key: String, value: String)]) {
        func value(_ name: String) -> String { pairs.last(where: { $0.key == name })?.value ?? "" }
        eventName = value("event_name").trimmingCharacters(in: .whitespaces)
        displayName = value("display_name").trimmingCharacters(in: .whitespaces)
        let keys = pairs.filter { $0.key == "filter_key" }.map(\.value)
        let values = pairs.filter { $0.key == "filter_values" }.map(\.value)
        filters = (0..<max(keys.count, values.count)).map { index in
            (index < keys.count ? keys[index] : "", index < values.count ? values[index] : "")
        }
        if filters.isEmpty { filters = [("", "")] }
        aggregation = value("aggregation")
        aggregationValue = value("aggregation_value").trimmingCharacters(in: .whitespaces)
        aggregationType = value("aggregation_type")
        period = value("period")
    }

    static func == (left: AddMeterForm, right: AddMeterForm) -> Bool {
        left.eventName == right.eventName && left.displayName == right.displayName
            && left.filters.map(\.key) == right.filters.map(\.key) && left.filters.map(\.values) == right.filters.map(\.values)
            && left.aggregation == right.aggregation && left.aggregationValue == right.aggregationValue
            && left.aggregationType == right.aggregationType && left.period == right.period
    }

    /// The draft the API would receive: filter rows with neither key nor values are skipped;
    /// values are split at commas.
    var draft: MeterDraft {
        var draft = MeterDraft()
        draft.eventName = eventName
        draft.displayName = displayName
        draft.filters = filters.compactMap { row in
            let key = row.key.trimmingCharacters(in: .whitespaces)
            let values = row.values.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if key.isEmpty && values.isEmpty { return nil }
            return MeterFilter(key: key, values: values)
        }
        draft.aggregation = aggregation
        draft.valueProperty = aggregationValue
        draft.reset = aggregationType
        draft.billingPeriod = aggregationType == "PERIODIC" ? period : ""
        return draft
    }
}
