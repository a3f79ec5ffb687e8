import NetAddress
import Yams

typealias YAMLNode = Yams.Node

/// Walks the YAML node tree by hand (rather than through Codable) so that every complaint
/// carries the line and column of the node it is about, and so that one bad value does not
/// stop the rest of the file from being checked.
struct TopologyDecoder {
    let file: String
    private var source: SourceText
    private(set) var diagnostics: [Diagnostic] = []
    /// Placeholder → key as written, for keys renamed to get past Yams' duplicate-key error.
    private var renamedKeys: [String: String] = [:]
    /// "mapping location|key" for every required key a misspelt key already pointed at, so a
    /// typo ("endpoint:") gets one "did you mean" instead of a second "missing" complaint.
    private var misspeltKeys: Set<String> = []

    init(yaml: String, file: String) {
        self.file = file
        self.source = SourceText(yaml)
    }

    /// nil when the YAML cannot be composed or its top level is unusable; diagnostics say why.
    mutating func decode() -> DraftLab? {
        guard let composed = compose() else { return nil }
        guard let root = composed else {
            error(start, "the file is empty",
                  hint: "a topology needs at least 'name' and 'nodes'; see docs/topology.md")
            return nil
        }
        if case .mapping(let mapping) = root, mapping.keys.contains(where: { $0.scalar?.string == "topology" }) {
            return decodeContainerlab(root)
        }
        return decodeLab(root)
    }

    // MARK: diagnostics and locations

    private var start: SourceLocation { SourceLocation(file: file, line: 1, column: 1) }

    mutating func error(_ location: SourceLocation, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(location, message, hint: hint))
    }

    mutating func error(_ location: SourceLocation, _ problem: Problem) {
        error(location, problem.message, hint: problem.hint)
    }

    private func location(_ mark: Mark?) -> SourceLocation {
        guard let mark else { return start }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    func location(_ node: YAMLNode) -> SourceLocation { location(node.mark) }

    /// The column of the `offset`-th Unicode scalar of a scalar's value, when the value is
    /// written verbatim on one line; otherwise the scalar's own start, which is still right.
    func location(_ node: YAMLNode, offset: Int) -> SourceLocation { locator(node)(offset) }

    /// `location(node, offset:)` for many offsets of one scalar: the source is compared with the
    /// value once, not once per offset (per offset made decoding a file of 2,000,000 routes
    /// take 100 s).
    func locator(_ node: YAMLNode) -> (Int) -> SourceLocation {
        let base = location(node)
        guard case .scalar(let scalar) = node else { return { _ in base } }
        let quote = scalar.style == .singleQuoted || scalar.style == .doubleQuoted ? 1 : 0
        guard source.hasVerbatim(scalar.string, line: base.line, column: base.column + quote) else { return { _ in base } }
        let file = file
        return { offset in SourceLocation(file: file, line: base.line, column: base.column + quote + offset) }
    }

    // MARK: composing

    /// .some(nil) for an empty document, nil when the YAML is broken.
    private mutating func compose() -> YAMLNode?? {
        // Yams refuses a mapping with a duplicate key outright. To still report everything
        // else, the first copy of the key is overwritten in place by a same-length placeholder
        // (columns stay put) and composing starts again; `entries` maps the placeholder back
        // and reports the duplicate at the second copy, which is the one to remove.
        for round in 0..<512 {
            do {
                return .some(try Yams.compose(yaml: source.text))
            } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
                let key = duplicates.first ?? ""
                if renameKey(key, at: context.mark, round: round) { continue }
                error(location(context.mark), "duplicate key \(Names.quoted(key))",
                      hint: "each key may appear only once in a mapping")
                return nil
            } catch let yamlError as YamlError {
                diagnostics.append(diagnostic(for: yamlError))
                return nil
            } catch {
                self.error(start, "cannot parse the file as YAML: \(error)")
                return nil
            }
        }
        error(start, "too many duplicate keys", hint: "each key may appear only once in a mapping")
        return nil
    }

    private mutating func renameKey(_ key: String, at mark: Mark, round: Int) -> Bool {
        // Private-use characters cannot occur in keys a person typed, so placeholders never
        // collide with real keys; one code point per round keeps them distinct.
        guard let filler = Unicode.Scalar(0xE000 + UInt32(round)) else { return false }
        let count = key.unicodeScalars.count
        guard count > 0 else { return false }
        let placeholder = [Unicode.Scalar](repeating: filler, count: count)
        var column = mark.column
        if !source.hasVerbatim(key, line: mark.line, column: column) {
            // A quoted key: the mark is on the quote.
            let opening = source.index(line: mark.line, column: column).map { source.scalars[$0] }
            guard opening == "\"" || opening == "'",
                  source.hasVerbatim(key, line: mark.line, column: column + 1) else { return false }
            column += 1
        }
        guard source.overwrite(line: mark.line, column: column, with: placeholder) else { return false }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: placeholder)
        renamedKeys[String(text)] = key
        return true
    }

    private func diagnostic(for yamlError: YamlError) -> Diagnostic {
        func make(_ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> Diagnostic {
            var message = "invalid YAML: \(problem)"
            if let context {
                // libyaml phrases some problems as a continuation of the context ("expected a
                // single document" / "but found another document").
                if problem.hasPrefix("but ") {
                    message = "invalid YAML: \(context.text), \(problem)"
                } else {
                    message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
                }
            }
            return Diagnostic(location(mark), message, hint: yamlHint(problem: problem, line: mark.line))
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return make(context, problem, mark)
        case .reader(let problem, let offset, let value, let yaml):
            var where_ = start
            if let offset, let index = yaml.index(yaml.startIndex, offsetBy: offset, limitedBy: yaml.endIndex) {
                let scalarOffset = yaml.unicodeScalars.distance(from: yaml.unicodeScalars.startIndex, to: index)
                let position = source.position(ofScalar: scalarOffset)
                where_ = SourceLocation(file: file, line: position.line, column: position.column)
            }
            var message = "invalid YAML: \(problem)"
            if value >= 0, let scalar = Unicode.Scalar(UInt32(value)) {
                message += ": \(Names.describe(scalar))"
            }
            return Diagnostic(where_, message, hint: "remove the character, or write it as an escape inside double quotes")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return Diagnostic(location(context.mark), "duplicate key \(Names.quoted(duplicates.first ?? ""))")
        default:
            return Diagnostic(start, "invalid YAML: \(yamlError)")
        }
    }

    private func yamlHint(problem: String, line: Int) -> String? {
        if source.line(line).contains("\t") {
            return "YAML indentation must use spaces, not tabs"
        }
        if problem.contains("mapping values are not allowed") {
            return "check the indentation, and quote values that contain ': '"
        }
        if problem.contains("did not find expected key") || problem.contains("did not find expected '-'") {
            return "check the indentation of this line against the lines above"
        }
        if problem.contains("found character that cannot start any token") {
            return "quote the value: characters such as '@', '`' and '%' cannot start a plain value"
        }
        return nil
    }

    // MARK: node helpers

    struct Entry {
        var key: String
        var keyLocation: SourceLocation
        var value: YAMLNode
    }

    /// The resolved tag: Yams keeps `Tag.name` internal but prints it as its description.
    func tagName(_ node: YAMLNode) -> Tag.Name { Tag.Name(rawValue: node.tag.description) }

    func isNull(_ node: YAMLNode) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        // Without an explicit tag, a plain scalar is null exactly when Yams's null rule
        // (^(?:~|null|Null|NULL|)$) matches, and a quoted or block one never is. Asking Yams
        // runs its regular expressions: a fifth of decoding a file of 2,000,000 routes.
        if scalar.tag.description == Tag.Name.implicit.rawValue {
            return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
        }
        return tagName(node) == .null
    }

    func describe(_ node: YAMLNode) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch tagName(node) {
            case .null: return "nothing"
            case .int, .float: return "the number \(scalar.string)"
            case .bool: return "the boolean \(scalar.string)"
            default: return "the string \(Names.quoted(scalar.string))"
            }
        }
    }

    /// The entries of a mapping in file order, each key once; later copies are reported.
    mutating func entries(_ mapping: YAMLNode.Mapping, what: String) -> [Entry] {
        var seen: [String: SourceLocation] = [:]
        var out: [Entry] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key, !isNull(key) else {
                error(location(key), "a key \(what) must be a plain word, found \(describe(key))")
                continue
            }
            let name = renamedKeys[scalar.string] ?? scalar.string
            let keyLocation = location(key)
            if let first = seen[name] {
                error(keyLocation, "duplicate key \(Names.quoted(name)) \(what)",
                      hint: "the first is at \(first); remove or rename one")
                continue
            }
            seen[name] = keyLocation
            out.append(Entry(key: name, keyLocation: keyLocation, value: value))
        }
        return out
    }

    /// The known keys of a mapping; unknown keys are reported with the closest known one.
    mutating func fields(_ node: YAMLNode, allowed: [String], what: String,
                                 expected: String, hint: String? = nil) -> [String: Entry]? {
        guard case .mapping(let mapping) = node else {
            error(location(node), "\(what) must be \(expected), found \(describe(node))", hint: hint)
            return nil
        }
        var known: [String: Entry] = [:]
        for entry in entries(mapping, what: "in \(what)") {
            if allowed.contains(entry.key) {
                known[entry.key] = entry
            } else {
                let suggestion = Suggest.closest(to: entry.key, among: allowed)
                if let suggestion { misspeltKeys.insert("\(location(node))|\(suggestion)") }
                error(entry.keyLocation, "unknown key \(Names.quoted(entry.key)) in \(what)",
                      hint: suggestion.map { "did you mean '\($0)'?" }
                        ?? "the keys allowed here are \(allowed.joined(separator: ", "))")
            }
        }
        return known
    }

    /// Reports that `node` lacks required `key`, unless a misspelling of it was reported already.
    mutating func missing(_ key: String, in node: YAMLNode, _ message: String, hint: String) {
        guard !misspeltKeys.contains("\(location(node))|\(key)") else { return }
        error(location(node), message, hint: hint)
    }

    /// A scalar's text, or nil after reporting what was found instead.
    mutating func text(_ node: YAMLNode, _ what: String, expected: String = "a string") -> String? {
        if case .scalar(let scalar) = node, !isNull(node) { return scalar.string }
        error(location(node), "\(what) must be \(expected), found \(describe(node))")
        return nil
    }

    mutating func integer(_ node: YAMLNode, _ what: String, in range: ClosedRange<UInt64>) -> UInt64? {
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        guard let text = text(node, what, expected: expected) else { return nil }
        switch AddressSyntax.integer(text, in: range, what: what) {
        case .success(let value): return value
        case .failure(let problem): error(location(node), problem); return nil
        }
    }

    mutating func mtu(_ node: YAMLNode) -> UInt32? {
        // 68 is the IPv4 minimum (RFC 791); 65535 is the most a veth accepts.
        integer(node, "'mtu'", in: 68...65535).map { UInt32($0) }
    }

    // MARK: the lab

    private mutating func decodeLab(_ root: YAMLNode) -> DraftLab? {
        guard let top = fields(root, allowed: TopologyKeys.topLevel, what: "the top level",
                               expected: "a mapping with 'name', 'nodes' and 'links'",
                               hint: "see docs/topology.md for an example") else { return nil }
        var lab = DraftLab()
        let rootLocation = location(root)

        if let entry = top["name"] {
            if let name = text(entry.value, "'name'") {
                lab.name = name
                if let problem = Names.labNameProblem(name) { error(location(entry.value), problem) }
            }
        } else {
            missing("name", in: root, "missing required key 'name'",
                  hint: "add a line such as `name: mylab` at the top level; the lab is destroyed by that name")
        }

        if let entry = top["addressing"] {
            lab.addressing = decodeAddressing(entry.value)
            lab.addressingLocation = location(entry.value)
        }
        if let entry = top["routing"], let mode = choice(entry, "routing", RoutingMode.self,
            hint: "'static' computes shortest-path routes on every router and a default route on every host; "
                + "'ospf' and 'bgp' run FRR on every router") {
            lab.routing = mode
        }
        if let entry = top["neighbours"], let mode = choice(entry, "neighbours", NeighbourMode.self,
            hint: "'static' installs permanent neighbour entries on every link, 'dynamic' leaves it to ARP and NDP; without the key, labs too big for the host's neighbour tables get permanent entries") {
            lab.neighbours = mode
        }
        if let entry = top["ttl"] {
            // 1: every packet stops at the first router; 255: the most the header holds.
            lab.ttl = integer(entry.value, "'ttl'", in: 1...255).map { Int($0) }
        }

        if let entry = top["prefix"], !isNull(entry.value), let prefix = text(entry.value, "'prefix'") {
            lab.prefix = prefix
            lab.prefixLocation = location(entry.value)
            if let problem = Names.prefixProblem(prefix) { error(location(entry.value), problem) }
        }

        if let entry = top["nodes"] {
            lab.nodes = decodeNodes(entry.value, keyLocation: entry.keyLocation)
        } else {
            missing("nodes", in: root, "missing required key 'nodes'",
                  hint: "add `nodes:` with one `NAME:` line per namespace, e.g. `nodes: { ns1: {}, ns2: {} }`")
        }

        if let entry = top["links"], !isNull(entry.value) {
            if case .sequence(let items) = entry.value, items.count > TopologyLimits.links {
                error(entry.keyLocation, "the lab has \(items.count) links, more than nslab deploys (\(TopologyLimits.links))",
                      hint: "split the lab into several")
            } else if case .sequence(let items) = entry.value {
                lab.links.reserveCapacity(items.count)  // grown by doubling, 10,000 links held 8 MB twice
                for item in items {
                    if let link = decodeLink(item) { lab.links.append(link) }
                }
            } else {
                error(location(entry.value), "'links' must be a list of links, found \(describe(entry.value))",
                      hint: "start each link with '- endpoints: [a:eth0, b:eth0]'")
            }
        }
        decodeSpread(top, into: &lab)
        if let entry = top["vxlan"] { lab.vxlanLocation = location(entry.value) }
        if let entry = top["expect"], !isNull(entry.value) {
            lab.expectations = decodeExpectations(entry.value, nodes: lab.nodes.map(\.name) + lab.remoteNodes.map(\.name))
        }
        return lab
    }

    /// "'a' or 'b'", "'a', 'b' or 'c'".
    static func alternatives(_ words: [String]) -> String {
        let quoted = words.map { "'\($0)'" }
        guard quoted.count > 1 else { return quoted.first ?? "" }
        return quoted.dropLast().joined(separator: ", ") + " or " + (quoted.last ?? "")
    }

    /// One of a fixed set of words; anything else is reported with the closest word or `hint`.
    private mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ entry: Entry, _ key: String, _: Choice.Type, hint: String
    ) -> Choice? where Choice.RawValue == String {
        let words = Choice.allCases.map(\.rawValue)
        let alternatives = Self.alternatives(words)
        guard let value = text(entry.value, "'\(key)'", expected: alternatives) else { return nil }
        if let chosen = Choice(rawValue: value) { return chosen }
        error(location(entry.value), "'\(key)' must be \(alternatives), found \(Names.quoted(value))",
              hint: Suggest.didYouMean(value, among: words) ?? hint)
        return nil
    }

    private mutating func decodeAddressing(_ node: YAMLNode) -> AddressPlan? {
        guard let fields = fields(node, allowed: TopologyKeys.addressing, what: "'addressing'",
                                  expected: "a mapping with 'ipv4' and/or 'ipv6' pools",
                                  hint: "write `addressing: { ipv4: 10.0.0.0/16, ipv6: \"fd00::/48\" }`") else { return nil }
        var plan = AddressPlan()
        var complete = true
        for (key, family) in [("ipv4", IPAddress.Family.ipv4), ("ipv6", .ipv6)] {
            guard let entry = fields[key], let text = text(entry.value, "'\(key)'", expected: "a prefix such as 10.0.0.0/16") else { continue }
            guard text.contains("/"), let pool = IPPrefix(text), pool.family == family else {
                error(location(entry.value), "'\(key)' must be an \(family) prefix such as \(family == .ipv4 ? "10.0.0.0/16" : "fd00::/48"), found \(Names.quoted(text))")
                complete = false
                continue
            }
            if family == .ipv4 { plan.ipv4 = pool.network } else { plan.ipv6 = pool.network }
        }
        for (key, allowed) in [("ipv4-link", [30, 31]), ("ipv6-link", [64, 127])] {
            guard let entry = fields[key] else { continue }
            guard let value = integer(entry.value, "'\(key)'", in: 0...128).map(Int.init), allowed.contains(value) else {
                error(location(entry.value), "'\(key)' must be \(allowed[0]) or \(allowed[1])",
                      hint: key == "ipv4-link" ? "31 uses both addresses of each link subnet (RFC 3021); 30 the classic .1 and .2"
                                               : "127 uses both addresses (RFC 6164); 64 gives ::1 and ::2 in a /64")
                complete = false
                continue
            }
            if key == "ipv4-link" { plan.ipv4LinkLength = value } else { plan.ipv6LinkLength = value }
        }
        // A misspelt pool key was reported already; "names no pool" would repeat it.
        let allKeysKnown: Bool = { if case .mapping(let mapping) = node { return mapping.count == fields.count }; return true }()
        if complete && allKeysKnown && plan.ipv4 == nil && plan.ipv6 == nil {
            error(location(node), "'addressing' names no pool", hint: "add `ipv4: 10.0.0.0/16` and/or `ipv6: \"fd00::/48\"`")
        }
        return complete ? plan : nil
    }

    private mutating func decodeNodes(_ node: YAMLNode, keyLocation: SourceLocation) -> [DraftNode] {
        let emptyHint = "add one `NAME:` line per namespace under 'nodes', e.g. `nodes: { ns1: {}, ns2: {} }`"
        if isNull(node) {
            error(keyLocation, "'nodes' is empty: a lab needs at least one node", hint: emptyHint)
            return []
        }
        guard case .mapping(let mapping) = node else {
            var hint = "write nodes as a mapping from names to settings: `nodes: { ns1: {}, r1: { kind: router } }`"
            if case .sequence(let items) = node {
                let names = items.compactMap { $0.scalar?.string }
                if !names.isEmpty, names.count == items.count {
                    hint = "write `nodes: { \(names.map { "\($0): {}" }.joined(separator: ", ")) }`"
                }
            }
            error(location(node), "'nodes' must be a mapping from node names to their settings, found \(describe(node))",
                  hint: hint)
            return []
        }
        if mapping.count > TopologyLimits.nodes {
            error(keyLocation, "the lab has \(mapping.count) nodes, more than nslab deploys (\(TopologyLimits.nodes))",
                  hint: "each node is a network namespace, about 1 ms and 100 KiB of kernel memory; split the lab into several")
            return []
        }
        let list = entries(mapping, what: "in 'nodes'")
        if list.isEmpty && mapping.isEmpty {
            error(location(node), "'nodes' is empty: a lab needs at least one node", hint: emptyHint)
        }
        return list.map { decodeNode($0) }
    }

    private mutating func decodeNode(_ entry: Entry) -> DraftNode {
        var node = DraftNode(name: entry.key, location: entry.keyLocation)
        if let problem = Names.nodeNameProblem(entry.key) { error(entry.keyLocation, problem) }
        if isNull(entry.value) { return node }
        let what = "node \(Names.quoted(entry.key))"
        guard let fields = fields(entry.value, allowed: TopologyKeys.node, what: what,
                                  expected: "a mapping with 'kind', 'routes', 'files' or 'commands', or empty",
                                  hint: "e.g. `\(entry.key): { kind: router, routes: [10.0.0.0/24 via 172.16.0.2] }`")
        else { return node }

        if let kind = fields["kind"] {
            let expected = Self.alternatives(NodeKind.allCases.map(\.rawValue))
            if case .scalar(let scalar) = kind.value, tagName(kind.value) == .str,
               let value = NodeKind(rawValue: scalar.string) {
                node.kind = value
            } else if case .scalar(let scalar) = kind.value, tagName(kind.value) == .str {
                error(location(kind.value), "unknown node kind \(Names.quoted(scalar.string)) for \(what)",
                      hint: Suggest.didYouMean(scalar.string, among: NodeKind.allCases.map(\.rawValue))
                        ?? "'host' (the default) forwards nothing; 'router' forwards IPv4 and IPv6; 'bridge' is a switch")
            } else {
                error(location(kind.value), "'kind' must be \(expected), found \(describe(kind.value))")
            }
        }

        decodeNodeExtras(fields, into: &node)
        decodeBridgeOptions(fields, into: &node)
        decodeNodeRouting(fields, into: &node)
        decodeNodeHost(fields, into: &node)

        if let routes = fields["routes"], !isNull(routes.value) {
            guard case .sequence(let items) = routes.value else {
                error(location(routes.value), "'routes' must be a list of routes, found \(describe(routes.value))",
                      hint: "write `routes: [default via 192.168.0.254]`, one item per route")
                return node
            }
            for item in items {
                if let route = decodeRoute(item) { node.routes.append(route) }
            }
        }
        return node
    }

    // MARK: routes

    private mutating func decodeRoute(_ node: YAMLNode) -> DraftRoute? {
        var raw: RouteSyntax.Raw
        var complete = true
        switch node {
        case .scalar(let scalar) where !isNull(node):
            let base = location(node)
            let at = locator(node)
            let length = scalar.string.unicodeScalars.count
            let parsed = RouteSyntax.parse(scalar.string, location: base) { (0...length).contains($0) ? at($0) : base }
            for failure in parsed.failures { error(failure.location, failure.problem) }
            raw = parsed.raw
            complete = parsed.failures.isEmpty
        case .mapping:
            guard let fields = fields(node, allowed: TopologyKeys.route, what: "a route", expected: "a mapping")
            else { return nil }
            raw = RouteSyntax.Raw(location: location(node))
            // An unknown or repeated key was probably meant as one of the four; judging the
            // route without it would add a second, misleading complaint.
            if case .mapping(let mapping) = node, mapping.count != fields.count { complete = false }
            for (key, path) in [("to", \RouteSyntax.Raw.to), ("via", \.via), ("dev", \.dev), ("metric", \.metric)] {
                guard let entry = fields[key] else { continue }
                let expected = key == "metric" ? "a whole number" : "a string"
                guard let value = text(entry.value, "'\(key)'", expected: expected) else { complete = false; continue }
                raw[keyPath: path] = Located(value: value, location: location(entry.value))
            }
            if fields["to"] == nil {
                missing("to", in: node, "the route is missing required key 'to'",
                      hint: "add `to: default` or `to: 10.0.0.0/24`")
                complete = false
            }
        default:
            error(location(node), "a route must be a string or a mapping, found \(describe(node))",
                  hint: "write `- default via 192.168.0.254` or `- { to: 10.0.0.0/24, via: 172.16.0.2 }`")
            return nil
        }
        let built = RouteSyntax.build(raw, complete: complete)
        for failure in built.failures { error(failure.location, failure.problem) }
        return built.route
    }

    // MARK: links

    private mutating func decodeLink(_ node: YAMLNode) -> DraftLink? {
        guard let fields = fields(node, allowed: TopologyKeys.link, what: "a link", expected: "a mapping with 'endpoints'",
                                  hint: "write `- endpoints: [a:eth0, b:eth0]`") else { return nil }
        var link = DraftLink(endpoints: [], location: location(node))
        if let entry = fields["mtu"] { link.mtu = mtu(entry.value) }
        if let entry = fields["state"], let state = text(entry.value, "'state'") {
            switch state {
            case "up": link.isDown = false
            case "down": link.isDown = true
            default: error(location(entry.value), "'state' must be up or down, not \(Names.quoted(state))")
            }
        }
        if let entry = fields["impair"] { link.impairment = impairment(entry.value) }
        if let entry = fields["flap"] { link.flap = flap(entry.value) }
        link.vlans = decodeVLANs(fields, at: location(node), onLink: true)
        if let entry = fields["cost"] { link.cost = cost(entry.value) }
        if let entry = fields["area"] { link.area = area(entry.value) }
        decodeLinkTunnel(fields, into: &link)

        guard let endpointsEntry = fields["endpoints"] else {
            missing("endpoints", in: node, "the link is missing required key 'endpoints'",
                  hint: "add `endpoints: [a:eth0, b:eth0]`, the two interfaces the link joins")
            if let entry = fields["addresses"] { _ = decodeLinkAddresses(entry.value, count: nil) }
            return nil
        }
        guard case .sequence(let items) = endpointsEntry.value else {
            error(location(endpointsEntry.value),
                  "'endpoints' must be a list of 2 endpoints, found \(describe(endpointsEntry.value))",
                  hint: "write `endpoints: [a:eth0, b:eth0]`")
            if let entry = fields["addresses"] { _ = decodeLinkAddresses(entry.value, count: nil) }
            return nil
        }
        if items.count != 2 && (link.tunnel == nil || items.count != 1) {
            error(location(endpointsEntry.value), "a link has exactly 2 endpoints, found \(items.count)",
                  hint: "a link is one veth pair; write a separate link for each pair of interfaces")
        }
        var endpoints = items.map { decodeEndpoint($0) }

        if let entry = fields["addresses"],
           let perEndpoint = decodeLinkAddresses(entry.value, count: items.count) {
            for (index, item) in perEndpoint.enumerated() where index < endpoints.count {
                guard let addresses = item, var endpoint = endpoints[index] else { continue }
                if let own = endpoint.ownAddressesLocation {
                    error(addresses.location,
                          "addresses for endpoint \(index + 1) are given twice, here and in the endpoint at \(own)",
                          hint: "keep one; write ~ (null) here to leave the addresses to the endpoint")
                    continue
                }
                endpoint.addresses = addresses.value
                endpoints[index] = endpoint
            }
        }
        link.endpoints = endpoints.compactMap { $0 }
        return link
    }

    /// `impair: { delay: 20ms, loss: 1%, rate: 10mbit }`, each value as tc writes it.
    private mutating func impairment(_ node: YAMLNode) -> Impairment? {
        if isNull(node) { return nil }
        guard let fields = fields(node, allowed: TopologyKeys.impairment, what: "'impair'", expected: "a mapping",
                                  hint: "write `impair: { delay: 20ms, loss: 1% }`") else { return nil }
        var result = Impairment()
        for key in TopologyKeys.impairment {
            guard let entry = fields[key], let value = text(entry.value, "'\(key)'") else { continue }
            if let problem = result.set(key, to: value) { error(location(entry.value), problem) }
        }
        return result
    }

    /// `flap: { down-after: 5s, down-for: 2s, times: 3, up-for: 10s }`.
    private mutating func flap(_ node: YAMLNode) -> FlapSchedule? {
        if isNull(node) { return nil }
        guard let fields = fields(node, allowed: TopologyKeys.flap, what: "'flap'", expected: "a mapping",
                                  hint: "write `flap: { down-after: 5s, down-for: 2s }`") else { return nil }
        func seconds(_ key: String) -> Double? {
            guard let entry = fields[key], let text = text(entry.value, "'\(key)'") else { return nil }
            guard let value = FlapSchedule.seconds(text) else {
                error(location(entry.value), "'\(key)' must be a time such as 5, 5s or 500ms, not \(Names.quoted(text))")
                return nil
            }
            return value
        }
        let downAfter = seconds("down-after"), downFor = seconds("down-for"), upFor = seconds("up-for")
        var times = 1
        if let entry = fields["times"], let text = text(entry.value, "'times'") {
            if let value = Int(text), value >= 1 { times = value } else {
                error(location(entry.value), "'times' must be a whole number, 1 or more, not \(Names.quoted(text))")
            }
        }
        guard let downAfter, let downFor else {
            if fields["down-after"] == nil || fields["down-for"] == nil {
                error(location(node), "'flap' needs both 'down-after' and 'down-for'",
                      hint: "write `flap: { down-after: 5s, down-for: 2s }`")
            }
            return nil
        }
        return FlapSchedule(downAfter: downAfter, downFor: downFor, upFor: upFor, times: times)
    }

    /// The link's `addresses`: one item per endpoint. nil when unusable (already reported).
    private mutating func decodeLinkAddresses(_ node: YAMLNode, count: Int?) -> [Located<[Located<IPPrefix>]>?]? {
        if isNull(node) { return nil }
        guard case .sequence(let items) = node else {
            error(location(node), "'addresses' must be a list with one item per endpoint, found \(describe(node))",
                  hint: "write `addresses: [192.168.0.1/24, 192.168.0.2/24]`")
            return nil
        }
        let decoded = items.map { item -> Located<[Located<IPPrefix>]>? in
            if isNull(item) { return nil }
            return Located(value: addressList(item), location: location(item))
        }
        if let count, items.count != count {
            error(location(node), "'addresses' has \(items.count) item\(items.count == 1 ? "" : "s") but the link has \(count) endpoints",
                  hint: "give one item per endpoint, in order; write ~ (null) for an endpoint without addresses")
            return nil
        }
        return decoded
    }

    /// A string, a list of strings, or null: the addresses of one interface.
    mutating func addressList(_ node: YAMLNode) -> [Located<IPPrefix>] {
        switch node {
        case .sequence(let items):
            return items.compactMap { interfaceAddress($0) }
        case .scalar where isNull(node):
            return []
        case .scalar:
            return interfaceAddress(node).map { [$0] } ?? []
        default:
            error(location(node), "an interface's addresses must be a string or a list of strings, found \(describe(node))",
                  hint: "write 192.168.0.1/24, or [192.168.0.1/24, \"fd00::1/64\"] for several")
            return []
        }
    }

    mutating func interfaceAddress(_ node: YAMLNode) -> Located<IPPrefix>? {
        guard let text = text(node, "an interface address", expected: "a string such as 192.168.0.1/24") else { return nil }
        switch AddressSyntax.prefix(text, requireLength: true) {
        case .success(let prefix): return Located(value: prefix, location: location(node))
        case .failure(let problem): error(location(node), problem); return nil
        }
    }

    private mutating func decodeEndpoint(_ node: YAMLNode) -> DraftEndpoint? {
        switch node {
        case .scalar(let scalar) where !isNull(node):
            let text = scalar.string
            // The first colon splits: the kernel refuses ':' in interface names, node names
            // cannot contain one either, so any later colon is a mistake reported below.
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let nodeName = String(parts[0])
            if nodeName.isEmpty {
                error(location(node), "endpoint \(Names.quoted(text)) has no node name",
                      hint: "write node:interface, e.g. ns01:eth0")
                return nil
            }
            var endpoint = DraftEndpoint(node: Located(value: nodeName, location: location(node, offset: 0)),
                                         location: location(node))
            if parts.count == 2 {
                let name = String(parts[1])
                let where_ = location(node, offset: nodeName.unicodeScalars.count + 1)
                if let problem = Names.interfaceNameProblem(name) { error(where_, problem) }
                endpoint.interface = Located(value: name, location: where_)
            }
            return endpoint
        case .mapping:
            guard let fields = fields(node, allowed: TopologyKeys.endpoint, what: "an endpoint", expected: "a mapping")
            else { return nil }
            guard let nodeEntry = fields["node"] else {
                missing("node", in: node, "the endpoint is missing required key 'node'",
                      hint: "add `node: NAME`, the node this end of the link is in")
                return nil
            }
            guard let nodeName = text(nodeEntry.value, "'node'") else { return nil }
            var endpoint = DraftEndpoint(node: Located(value: nodeName, location: location(nodeEntry.value)),
                                         location: location(node))
            if let entry = fields["interface"], let name = text(entry.value, "'interface'") {
                if let problem = Names.interfaceNameProblem(name) { error(location(entry.value), problem) }
                endpoint.interface = Located(value: name, location: location(entry.value))
            }
            if let entry = fields["addresses"], !isNull(entry.value) {
                endpoint.addresses = addressList(entry.value)
                endpoint.ownAddressesLocation = location(entry.value)
            }
            if let entry = fields["mtu"] { endpoint.mtu = mtu(entry.value) }
            if let entry = fields["impair"] { endpoint.impairment = impairment(entry.value) }
            if let entry = fields["cost"] { endpoint.cost = cost(entry.value) }
            endpoint.vlans = decodeVLANs(fields, at: location(node), onLink: false)
            if let entry = fields["mac"], let text = text(entry.value, "'mac'") {
                switch AddressSyntax.mac(text) {
                case .success(let bytes): endpoint.mac = bytes
                case .failure(let problem): error(location(entry.value), problem)
                }
            }
            return endpoint
        default:
            error(location(node), "an endpoint must be \"node:interface\", \"node\" or a mapping, found \(describe(node))",
                  hint: "write ns01:eth0, or { node: ns01, interface: eth0, addresses: [10.0.0.1/24] }")
            return nil
        }
    }
}
