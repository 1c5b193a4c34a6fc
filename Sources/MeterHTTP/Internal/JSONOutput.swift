import MeterCore

/// Builds JSON text by hand so that decimals go out as strings exactly as MeterCore writes
/// them; nothing passes through Foundation's number types.
struct JSONOutput {
    private(set) var text = ""
    private var needsComma: [Bool] = [false]

    mutating func beginObject() { valuePrefix(); text.append("{"); needsComma.append(false) }
    mutating func endObject() { text.append("}"); needsComma.removeLast() }
    mutating func beginArray() { valuePrefix(); text.append("["); needsComma.append(false) }
    mutating func endArray() { text.append("]"); needsComma.removeLast() }

    /// Writes `"name":` inside an object; the value follows.
    mutating func key(_ name: String) {
        valuePrefix()
        JSONStringLiteral.append(name, to: &text)
        text.append(":")
        needsComma[needsComma.count - 1] = false
    }

    mutating func string(_ value: String) { valuePrefix(); JSONStringLiteral.append(value, to: &text) }
    mutating func integer(_ value: some BinaryInteger) { valuePrefix(); text.append(String(value)) }
    mutating func boolean(_ value: Bool) { valuePrefix(); text.append(value ? "true" : "false") }
    mutating func null() { valuePrefix(); text.append("null") }

    mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    mutating func field(_ name: String, _ value: String?) { key(name); if let value { string(value) } else { null() } }
    mutating func field(_ name: String, integer value: some BinaryInteger) { key(name); integer(value) }
    mutating func field(_ name: String, boolean value: Bool) { key(name); boolean(value) }

    /// Writes `"name":[...]` inside an object, `write` writing each item's value.
    mutating func array<Items: Sequence>(_ name: String, _ items: Items, _ write: (Items.Element, inout JSONOutput) -> Void) {
        key(name)
        beginArray()
        for item in items { write(item, &self) }
        endArray()
    }

    /// Writes `"name":{...}` inside an object, `members` writing its members.
    mutating func object(_ name: String, _ members: (inout JSONOutput) -> Void) {
        key(name)
        beginObject()
        members(&self)
        endObject()
    }

    /// The JSON text of one value, written by `write`.
    static func text<Value>(of value: Value, _ write: (Value, inout JSONOutput) -> Void) -> String {
        var output = JSONOutput()
        write(value, &output)
        return output.text
    }

    /// `{"items":[...]}`, the shape of the API's list answers.
    static func items<Items: Sequence>(_ items: Items, _ write: (Items.Element, inout JSONOutput) -> Void) -> String {
        var output = JSONOutput()
        output.beginObject()
        output.array("items", items, write)
        output.endObject()
        return output.text
    }

    private mutating func valuePrefix() {
        if needsComma[needsComma.count - 1] { text.append(",") }
        needsComma[needsComma.count - 1] = true
    }
}
