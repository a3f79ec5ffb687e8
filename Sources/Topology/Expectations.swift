import NetAddress

/// One line of the topology's `expect:` list, checked by `nslab verify`.
public struct Expectation: Sendable {
    public enum Target: Sendable, Hashable, CustomStringConvertible {
        /// Every address of the node.
        case node(String)
        /// Every address of one interface.
        case interface(node: String, interface: String)
        case address(IPAddress)

        public var description: String {
            switch self {
            case .node(let node): return node
            case .interface(let node, let interface): return "\(node):\(interface)"
            case .address(let address): return address.description
            }
        }
    }

    public var from: String
    public var target: Target
    /// false: "does not reach" (no address of the target answers).
    public var reaches: Bool
    /// Routers the path must cross, in this order, and no others; empty: any path.
    public var via: [String]
    public var location: SourceLocation

    public init(from: String, target: Target, reaches: Bool = true, via: [String] = [], location: SourceLocation) {
        self.from = from; self.target = target; self.reaches = reaches; self.via = via; self.location = location
    }

    /// The canonical string form: "ns01 reaches ns02 via router01, router02".
    public var text: String {
        let verb = reaches ? "reaches" : "does not reach"
        return "\(from) \(verb) \(target)" + (via.isEmpty ? "" : " via \(via.joined(separator: ", "))")
    }
}

extension TopologyDecoder {
    static let expectationHint = "write 'A reaches B', 'A does not reach B', 'A reaches B via R1, R2' (B a node, NODE:IFACE or an address), or { from: A, to: B, reaches: true, via: [R1, R2] }"

    mutating func decodeExpectations(_ node: YAMLNode, nodes: [String]) -> [Expectation] {
        guard case .sequence(let items) = node else {
            error(location(node), "'expect' must be a list of expectations, found \(describe(node))", hint: Self.expectationHint)
            return []
        }
        return items.compactMap { item in
            switch item {
            case .scalar where !isNull(item):
                return decodeExpectationString(item, nodes: nodes)
            case .mapping:
                return decodeExpectationMap(item, nodes: nodes)
            default:
                error(location(item), "an expectation must be a string or a mapping, found \(describe(item))", hint: Self.expectationHint)
                return nil
            }
        }
    }

    private mutating func decodeExpectationString(_ node: YAMLNode, nodes: [String]) -> Expectation? {
        guard case .scalar(let scalar) = node else { return nil }
        // Words with their offsets, commas treated as spaces (they only separate the via list).
        var words: [(text: String, offset: Int)] = []
        var current = "", start = 0
        for (offset, character) in scalar.string.unicodeScalars.enumerated() {
            if character == " " || character == "\t" || character == "," {
                if !current.isEmpty { words.append((current, start)) }
                current = ""
            } else {
                if current.isEmpty { start = offset }
                current.unicodeScalars.append(character)
            }
        }
        if !current.isEmpty { words.append((current, start)) }
        let whole = location(node)
        guard words.count >= 3 else {
            error(whole, "expectation \(Names.quoted(scalar.string)) is incomplete", hint: Self.expectationHint)
            return nil
        }
        var ok = true
        let from = words[0]
        if !checkNode(from.text, nodes: nodes, at: location(node, offset: from.offset), role: "source") { ok = false }
        var index = 1
        var reaches = true
        if words[1].text == "reaches" {
            index = 2
        } else if words.count >= 5, words[1].text == "does", words[2].text == "not", words[3].text == "reach" {
            reaches = false
            index = 4
        } else {
            let suggestion = Suggest.closest(to: words[1].text, among: ["reaches", "does"])
            error(location(node, offset: words[1].offset), "expected 'reaches' or 'does not reach' after \(Names.quoted(from.text)), found \(Names.quoted(words[1].text))",
                  hint: suggestion.map { "did you mean '\($0)'?" } ?? Self.expectationHint)
            return nil
        }
        guard index < words.count else {
            error(whole, "expectation \(Names.quoted(scalar.string)) names no destination", hint: Self.expectationHint)
            return nil
        }
        let targetWord = words[index]
        let target = expectationTarget(targetWord.text, nodes: nodes, at: location(node, offset: targetWord.offset))
        var via: [String] = []
        index += 1
        if index < words.count {
            guard words[index].text == "via" else {
                error(location(node, offset: words[index].offset), "unexpected \(Names.quoted(words[index].text)) after the destination",
                      hint: "only 'via R1, R2' may follow the destination")
                return nil
            }
            if !reaches {
                error(location(node, offset: words[index].offset), "'via' makes no sense with 'does not reach'",
                      hint: "write 'A does not reach B', or 'A reaches B via R1, R2'")
                ok = false
            }
            let routers = words[(index + 1)...]
            if routers.isEmpty {
                error(location(node, offset: words[index].offset), "'via' names no nodes", hint: "write 'via router01, router02'")
                ok = false
            }
            for router in routers {
                if !checkNode(router.text, nodes: nodes, at: location(node, offset: router.offset), role: "'via'") { ok = false }
                via.append(router.text)
            }
        }
        guard ok, let target else { return nil }
        return Expectation(from: from.text, target: target, reaches: reaches, via: via, location: whole)
    }

    private mutating func decodeExpectationMap(_ node: YAMLNode, nodes: [String]) -> Expectation? {
        guard let fields = fields(node, allowed: TopologyKeys.expectation, what: "an expectation", expected: "a mapping",
                                  hint: Self.expectationHint) else { return nil }
        var ok = true
        guard let fromEntry = fields["from"], let toEntry = fields["to"] else {
            error(location(node), "an expectation needs 'from' and 'to'", hint: Self.expectationHint)
            return nil
        }
        guard let from = text(fromEntry.value, "'from'"), let to = text(toEntry.value, "'to'") else { return nil }
        if !checkNode(from, nodes: nodes, at: location(fromEntry.value), role: "source") { ok = false }
        let target = expectationTarget(to, nodes: nodes, at: location(toEntry.value))
        var reaches = true
        if let entry = fields["reaches"] {
            if let value = boolean(entry.value, "'reaches'") { reaches = value } else { ok = false }
        }
        var via: [String] = []
        if let entry = fields["via"], !isNull(entry.value) {
            let items: [YAMLNode]
            if case .sequence(let list) = entry.value { items = Array(list) } else { items = [entry.value] }
            for item in items {
                guard let name = text(item, "a 'via' node") else { ok = false; continue }
                if !checkNode(name, nodes: nodes, at: location(item), role: "'via'") { ok = false }
                via.append(name)
            }
            if !reaches && !via.isEmpty {
                error(location(entry.value), "'via' makes no sense with 'reaches: false'", hint: "remove 'via' or set 'reaches: true'")
                ok = false
            }
        }
        guard ok, let target else { return nil }
        return Expectation(from: from, target: target, reaches: reaches, via: via, location: location(node))
    }

    private mutating func expectationTarget(_ text: String, nodes: [String], at location: SourceLocation) -> Expectation.Target? {
        if let address = IPAddress(text) { return .address(address) }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard checkNode(parts[0], nodes: nodes, at: location, role: "destination") else { return nil }
        if parts.count == 2 {
            guard !parts[1].isEmpty else {
                error(location, "\(Names.quoted(text)) names no interface", hint: "write NODE:INTERFACE, e.g. ns02:eth0")
                return nil
            }
            return .interface(node: parts[0], interface: parts[1])
        }
        return .node(parts[0])
    }

    private mutating func checkNode(_ name: String, nodes: [String], at location: SourceLocation, role: String) -> Bool {
        if nodes.contains(name) { return true }
        error(location, "unknown node \(Names.quoted(name)) as \(role) of an expectation",
              hint: Suggest.didYouMean(name, among: nodes) ?? "the nodes are \(nodes.joined(separator: ", "))")
        return false
    }
}
