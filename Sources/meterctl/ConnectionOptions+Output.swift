/// Output every command shares: one object, or a listing, as text or (with --json) JSON.
extension ConnectionOptions {
    /// Prints one object: `members` as a JSON object with --json, else `text`.
    func printObject(_ members: @autoclosure () -> [(String, JSONOutput)], text: @autoclosure () -> String) {
        print(json ? JSONOutput.object(members()).rendered() : text())
    }

    /// Prints a listing: a JSON array of `itemJSON` with --json; else `empty` when there are no
    /// items, or `table` with one `row` per item.
    func printListing<Item>(_ items: [Item], json itemJSON: (Item) -> JSONOutput, empty: String, table: TextTable,
                            row: (Item) -> [String]) {
        if json {
            print(JSONOutput.array(items.map(itemJSON)).rendered())
            return
        }
        guard !items.isEmpty else {
            print(empty)
            return
        }
        var table = table
        table.rows += items.map(row)
        print(table.rendered())
    }
}

/// An optional RFC 3339 timestamp option in Unix milliseconds, 0 when it was not given (the
/// protocol's "not set"); a malformed one is a usage error naming the option.
func timestampOption(_ text: String?, option: String) throws -> Int64 {
    try text.map { try parseTimestampOption($0, option: option) } ?? 0
}

