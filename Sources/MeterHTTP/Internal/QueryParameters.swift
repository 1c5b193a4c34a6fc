import Hummingbird
import MeterCore

/// A request's URL query parameters (`FormDecoding` pairs, in order, keys may repeat), read by
/// the API's handlers with messages that name the parameter.
struct QueryParameters {
    let pairs: [(key: String, value: String)]

    /// The parameters of `request`'s URL.
    init(_ request: Request) {
        pairs = FormDecoding.pairs(Substring(request.uri.query ?? ""))
    }

    /// The parameters of `request`'s URL; one whose name is not in `known` is refused.
    init(_ request: Request, known: Set<String>) throws(HTTPProblem) {
        self.init(request)
        for (key, _) in pairs where !known.contains(key) {
            throw HTTPProblem(.invalidArgument, "unknown query parameter \"\(key.prefix(40))\"; known: \(known.sorted().joined(separator: ", "))", reason: RejectionCode.invalidQuery.name)
        }
    }

    /// The last value given for `name`, or nil when it was not given.
    subscript(_ name: String) -> String? {
        pairs.last(where: { $0.key == name })?.value
    }

    /// Every value given for `name`, in order.
    func all(_ name: String) -> [String] {
        pairs.filter { $0.key == name }.map(\.value)
    }

    /// The RFC 3339 time given for `name` in Unix milliseconds, or nil when it was not given.
    func time(_ name: String) throws(HTTPProblem) -> Int64? {
        guard let text = self[name] else { return nil }
        guard let milliseconds = CivilTime.parseRFC3339(text) else {
            throw HTTPProblem(.invalidArgument, "\(name) \"\(text.prefix(40))\" is not an RFC 3339 time such as 2026-01-31T12:00:00Z", reason: RejectionCode.invalidQuery.name)
        }
        return milliseconds
    }
}
