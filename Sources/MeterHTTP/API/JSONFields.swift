import MeterClient
import MeterWire

/// Reads typed members out of an exact JSON object, with messages that name the member.
struct JSONFields {
    let members: [ExactJSONMember]
    let context: String

    init(_ value: ExactJSONValue, context: String) throws(HTTPProblem) {
        guard case .object(let members) = value else {
            throw HTTPProblem(.invalidArgument, "\(context) must be a JSON object, not \(value.kindDescription)")
        }
        self.members = members
        self.context = context
    }

    static func parse(_ bytes: [UInt8]) throws(HTTPProblem) -> ExactJSONValue {
        do {
            return try ExactJSON.parse(bytes)
        } catch {
            throw HTTPProblem(.invalidArgument, "the body is not valid JSON: \(error)")
        }
    }

    func value(_ name: String) -> ExactJSONValue? {
        members.first(where: { $0.key == name })?.value
    }

    var keys: [String] { members.map(\.key) }

    /// A string member; nil when absent or null.
    func string(_ name: String) throws(HTTPProblem) -> String? {
        switch value(name) {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw HTTPProblem(.invalidArgument, "\"\(name)\" in \(context) must be a string, not \(other.kindDescription)")
        }
    }

    func strings(_ name: String) throws(HTTPProblem) -> [String] {
        switch value(name) {
        case nil, .null?: return []
        case .array(let items)?:
            var result: [String] = []
            for item in items {
                guard case .string(let text) = item else {
                    throw HTTPProblem(.invalidArgument, "\"\(name)\" in \(context) must be an array of strings, and holds \(item.kindDescription)")
                }
                result.append(text)
            }
            return result
        case let other?: throw HTTPProblem(.invalidArgument, "\"\(name)\" in \(context) must be an array of strings, not \(other.kindDescription)")
        }
    }

    func refuseUnknown(allowed: Set<String>) throws(HTTPProblem) {
        for key in keys where !allowed.contains(key) {
            throw HTTPProblem(.invalidArgument, "unknown member \"\(key.prefix(40))\" in \(context); known: \(allowed.sorted().joined(separator: ", "))")
        }
    }
}
