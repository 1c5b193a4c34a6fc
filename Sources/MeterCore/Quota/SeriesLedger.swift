/// Customers and series that screening let in but the state machine has not applied yet, per
/// meter, so that the next events of the same request, group commit, or the group screened
/// while this one syncs count them against the cardinality quotas.
///
/// Two layers: `carried` holds what the unapplied group before this one added (the writer
/// pipelines one group deep), `added` what this group adds. `next()` starts the ledger of the
/// following group. Only tenants with a cardinality quota ever put anything here.
public struct SeriesLedger: Sendable {
    /// One series of a meter, by customer id and group-by values (customer numbers may not exist yet).
    struct SeriesIdentity: Hashable, Sendable {
        let customerId: String
        let group: [String?]
    }

    struct MeterGrowth: Sendable {
        var customers: Set<String> = []
        var series: Set<SeriesIdentity> = []
    }

    var carried: [String: MeterGrowth] = [:]
    var added: [String: MeterGrowth] = [:]

    public init() {}

    /// The ledger for the group screened after this one, while this one is not applied.
    public func next() -> SeriesLedger {
        var ledger = SeriesLedger()
        ledger.carried = added
        return ledger
    }

    /// Nothing pending in either layer.
    public var isEmpty: Bool { carried.isEmpty && added.isEmpty }

    func contains(series: SeriesIdentity, meterId: String) -> Bool {
        carried[meterId]?.series.contains(series) == true || added[meterId]?.series.contains(series) == true
    }

    func contains(customerId: String, meterId: String) -> Bool {
        carried[meterId]?.customers.contains(customerId) == true || added[meterId]?.customers.contains(customerId) == true
    }

    func counts(meterId: String) -> (customers: Int, series: Int) {
        let carried = carried[meterId], added = added[meterId]
        return ((carried?.customers.count ?? 0) + (added?.customers.count ?? 0), (carried?.series.count ?? 0) + (added?.series.count ?? 0))
    }

    mutating func add(series: SeriesIdentity, newCustomer: Bool, meterId: String) {
        added[meterId, default: MeterGrowth()].series.insert(series)
        if newCustomer { added[meterId, default: MeterGrowth()].customers.insert(series.customerId) }
    }
}
