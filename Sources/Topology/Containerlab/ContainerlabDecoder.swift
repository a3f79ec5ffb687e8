import NetAddress
import Yams

/// A containerlab topology read into the same draft an nslab file becomes, so that validation,
/// deploy, diff, graph and script work on it unchanged and every complaint points into the
/// containerlab file. `linux` nodes become hosts (routers when they turn forwarding on),
/// `bridge` nodes switches; see ContainerlabKeys for what is mapped, left aside or refused.
extension TopologyDecoder {
    mutating func decodeContainerlab(_ root: YAMLNode) -> DraftLab? {
        guard let top = fields(root, allowed: ContainerlabKeys.topLevel, what: "the top level of a containerlab topology",
                               expected: "a mapping with 'name' and 'topology'") else { return nil }
        var lab = DraftLab()
        lab.format = .containerlab
        var reader = ContainerlabReader()

        if let entry = top["name"], let name = text(entry.value, "'name'") {
            lab.name = name
            if let problem = Names.labNameProblem(name) { error(location(entry.value), problem) }
        } else if top["name"] == nil {
            missing("name", in: root, "missing required key 'name'", hint: "add `name: mylab` at the top level")
        }
        lab.prefix = namespacePrefix(top["prefix"], lab: lab.name)
        lab.prefixLocation = top["prefix"].map { location($0.value) }
        for key in ["settings", "debug"] {
            if let entry = top[key] { refuse(key, at: entry.keyLocation) }
        }
        if let entry = top["mgmt"] { reader.note(key: "mgmt", at: entry.keyLocation) }

        guard let topologyEntry = top["topology"],
              let topology = fields(topologyEntry.value, allowed: ContainerlabKeys.topology, what: "'topology'",
                                    expected: "a mapping with 'nodes' and 'links'") else { return nil }
        reader.defaults = topology["defaults"].flatMap { level($0.value, what: "'defaults'", reader: &reader) } ?? [:]
        reader.kinds = namedLevels(topology["kinds"], what: "kind", reader: &reader)
        reader.groups = namedLevels(topology["groups"], what: "group", reader: &reader)

        var plans: [ContainerlabNodePlan] = []
        if let entry = topology["nodes"] {
            guard case .mapping(let mapping) = entry.value else {
                error(location(entry.value), "'nodes' must be a mapping from node names to their settings, found \(describe(entry.value))")
                return lab
            }
            for node in entries(mapping, what: "in 'nodes'") {
                if let plan = decodeNode(node, reader: &reader) { plans.append(plan) }
            }
        } else {
            missing("nodes", in: topologyEntry.value, "'topology' has no 'nodes'", hint: "add `nodes:` with one entry per node")
        }
        lab.nodes = plans.map(\.node)
        if let entry = topology["links"], !isNull(entry.value) {
            if case .sequence(let items) = entry.value {
                lab.links = items.compactMap { decodeLink($0, reader: &reader) }
            } else {
                error(location(entry.value), "'links' must be a list of links, found \(describe(entry.value))")
            }
        }
        apply(plans, to: &lab)
        lab.notes = reader.notes
        return lab
    }

    /// containerlab names a node's container (and the namespace `ip netns` lists for it)
    /// clab-LAB-NODE; `prefix` changes "clab", "__lab-name" leaves it out, "" names it NODE.
    private mutating func namespacePrefix(_ entry: Entry?, lab: String) -> String {
        guard let entry else { return "clab-\(lab)-" }
        guard let prefix = text(entry.value, "'prefix'") ?? (isNull(entry.value) ? "" : nil) else { return "clab-\(lab)-" }
        switch prefix {
        case "": return ""
        case "__lab-name": return "\(lab)-"
        default: return "\(prefix)-\(lab)-"
        }
    }

    // MARK: levels: defaults, kinds, groups, nodes

    /// A node-shaped mapping (a node, a group, a kind's settings or the defaults): its keys
    /// checked once, where they are written.
    private mutating func level(_ node: YAMLNode, what: String, reader: inout ContainerlabReader) -> [String: Entry]? {
        if isNull(node) { return [:] }
        guard let known = fields(node, allowed: ContainerlabKeys.node, what: what, expected: "a mapping") else { return nil }
        let mapped: Set<String> = ["kind", "group", "exec", "env", "binds", "sysctls"]
        for (key, entry) in known.sorted(by: { ($0.value.keyLocation.line, $0.value.keyLocation.column) < ($1.value.keyLocation.line, $1.value.keyLocation.column) }) {
            if ContainerlabKeys.ignored[key] != nil {
                reader.note(key: key, at: entry.keyLocation)
            } else if !mapped.contains(key) {
                refuse(key, at: entry.keyLocation)
            }
        }
        return known
    }

    private mutating func namedLevels(_ entry: Entry?, what: String, reader: inout ContainerlabReader) -> [String: [String: Entry]] {
        guard let entry, !isNull(entry.value) else { return [:] }
        guard case .mapping(let mapping) = entry.value else {
            error(location(entry.value), "'\(entry.key)' must be a mapping from \(what) names to settings, found \(describe(entry.value))")
            return [:]
        }
        var levels: [String: [String: Entry]] = [:]
        for named in entries(mapping, what: "in '\(entry.key)'") {
            levels[named.key] = level(named.value, what: "\(what) \(Names.quoted(named.key))", reader: &reader) ?? [:]
        }
        return levels
    }

    mutating func refuse(_ key: String, at place: SourceLocation) {
        let (message, hint) = ContainerlabKeys.refusal(key)
        error(place, message, hint: hint)
    }

    private mutating func decodeNode(_ entry: Entry, reader: inout ContainerlabReader) -> ContainerlabNodePlan? {
        if let problem = Names.nodeNameProblem(entry.key) { error(entry.keyLocation, problem) }
        guard let own = level(entry.value, what: "node \(Names.quoted(entry.key))", reader: &reader) else { return nil }
        let levels = reader.levels(of: own)
        if let group = own["group"], reader.groups[group.value.scalar?.string ?? ""] == nil {
            error(location(group.value), "unknown group \(Names.quoted(group.value.scalar?.string ?? ""))",
                  hint: Suggest.didYouMean(group.value.scalar?.string ?? "", among: Array(reader.groups.keys))
                    ?? "declare it under topology.groups")
        }
        guard let kindEntry = levels.first(where: { $0["kind"] != nil })?["kind"] else {
            error(entry.keyLocation, "node \(Names.quoted(entry.key)) has no kind",
                  hint: "add `kind: linux` to the node, its group or topology.defaults")
            return nil
        }
        guard let kind = text(kindEntry.value, "'kind'") else { return nil }
        let image = levels.first(where: { $0["image"] != nil })?["image"]
        // A node refused stays in the draft, so that its links are not reported as well.
        var plan = ContainerlabNodePlan(node: DraftNode(name: entry.key, location: entry.keyLocation))
        let lists = { (key: String) in levels.reversed().compactMap { $0[key] } }
        let runsFRR = ContainerlabFRR.isFRR(kind: kind, image: image?.value.scalar?.string)
        if runsFRR {
            plan.node.kind = .router
            plan.node.frr = mapFRRNode(entry, kind: kindEntry, binds: listItems(lists("binds"), what: "'binds'"))
        }
        guard runsFRR || ContainerlabKeys.kinds.contains(kind) else {
            error(location(kindEntry.value), "kind \(Names.quoted(kind)) runs a vendor's image: nslab runs linux and bridge nodes",
                  hint: "nslab nodes are network namespaces running the host's programs; use kind: linux")
            return plan
        }
        if kind == "bridge" {
            plan.node.kind = .bridge
            // The defaults' exec lines and env are meant for the linux nodes: a bridge leaves
            // them aside, as in containerlab; written for the bridge itself, they are a mistake.
            for key in ["exec", "binds", "env", "sysctls"] {
                if let first = levels.dropLast().compactMap({ $0[key] }).first {
                    error(first.keyLocation, "'\(key)' on bridge node \(Names.quoted(entry.key)): a bridge is a switch and runs nothing",
                          hint: "put it on the linux nodes plugged into the bridge")
                }
            }
            return plan
        }
        plan.environment = mergedMap(lists("env"), what: "'env'").sorted { $0.key.value < $1.key.value }
        for (key, value) in mergedMap(lists("sysctls"), what: "'sysctls'") {
            guard ["net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.forwarding"].contains(key.value),
                  value.value == "1" || value.value == "0" else {
                error(key.location, "sysctl \(Names.quoted(key.value)) is not supported: nslab sets forwarding only",
                      hint: "set it from an exec line instead: exec: [\"sysctl -w \(key.value)=\(value.value)\"]")
                continue
            }
            if value.value == "1" { plan.node.kind = .router }
        }
        plan.node.files = files(lists("binds"), leavingFRRs: runsFRR)
        plan.exec = execLines(lists("exec"))
        return plan
    }

    /// A map (`env`, `sysctls`) from the least specific level to the most, later keys winning.
    private mutating func mergedMap(_ entries: [Entry], what: String) -> [(key: Located<String>, value: Located<String>)] {
        var merged: [(key: Located<String>, value: Located<String>)] = []
        for entry in entries where !isNull(entry.value) {
            guard case .mapping(let mapping) = entry.value else {
                error(location(entry.value), "\(what) must be a mapping, found \(describe(entry.value))")
                continue
            }
            for pair in self.entries(mapping, what: "in \(what)") {
                guard case .scalar(let scalar) = pair.value else {
                    error(location(pair.value), "the value of \(Names.quoted(pair.key)) must be a string, found \(describe(pair.value))")
                    continue
                }
                merged.removeAll { $0.key.value == pair.key }
                merged.append((Located(value: pair.key, location: pair.keyLocation),
                               Located(value: scalar.string, location: location(pair.value))))
            }
        }
        return merged
    }

    /// The items of a list key (`exec`, `binds`) from every level, least specific first, each
    /// text once (as containerlab merges them).
    mutating func listItems(_ entries: [Entry], what: String) -> [YAMLNode] {
        var seen = Set<String>()
        var items: [YAMLNode] = []
        for entry in entries where !isNull(entry.value) {
            guard case .sequence(let list) = entry.value else {
                error(location(entry.value), "\(what) must be a list, found \(describe(entry.value))")
                continue
            }
            for item in list {
                guard let text = text(item, "an item of \(what)") else { continue }
                if seen.insert(text).inserted { items.append(item) }
            }
        }
        return items
    }

    /// `binds` of single files directly under /etc: the node's own copy of that file.
    /// An FRR node's binds under /etc/frr are its FRR configuration (`mapFRRNode`), not files.
    private mutating func files(_ entries: [Entry], leavingFRRs: Bool) -> [NodeFile] {
        var byName: [String: NodeFile] = [:]
        var order: [String] = []
        for item in listItems(entries, what: "'binds'") {
            let text = item.scalar?.string ?? ""
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if leavingFRRs, parts.count >= 2, parts[1].hasPrefix("/etc/frr/") { continue }
            let at = location(item)
            guard parts.count == 2 || (parts.count == 3 && ["ro", "rw"].contains(parts[2])),
                  parts[1].hasPrefix("/etc/"), !parts[1].dropFirst(5).contains("/"), !parts[0].isEmpty else {
                error(at, "bind \(Names.quoted(text)) is not supported: a node sees the host's file system, and only single "
                      + "files directly under /etc can be its own",
                      hint: "bind a file to /etc/NAME (e.g. hosts:/etc/hosts), or remove the bind")
                continue
            }
            let name = String(parts[1].dropFirst(5))
            if let problem = Names.etcFileProblem(name) { error(at, problem); continue }
            switch readBoundFile(parts[0]) {
            case .success(let content):
                if byName[name] == nil { order.append(name) }
                byName[name] = NodeFile(name: name, content: content, location: at)
            case .failure(let problem):
                error(at, problem)
            }
        }
        return order.compactMap { byName[$0] }
    }

    private mutating func execLines(_ entries: [Entry]) -> [(line: ExecLine, location: SourceLocation, text: String)] {
        listItems(entries, what: "'exec'").compactMap { item in
            let text = item.scalar?.string ?? ""
            switch ExecLine.read(text, at: locator(item)) {
            case .success(let line): return (line, location(item), text)
            case .failure(let quote):
                error(location(item, offset: quote.offset), "the exec line has a quote that is never closed",
                      hint: "close the quote, or quote the whole line in YAML and the shell words inside it separately")
                return nil
            }
        }
    }

    // MARK: links

    private mutating func decodeLink(_ node: YAMLNode, reader: inout ContainerlabReader) -> DraftLink? {
        guard case .mapping(let mapping) = node else {
            error(location(node), "a link must be a mapping with 'endpoints', found \(describe(node))",
                  hint: "write `- endpoints: [\"a:eth1\", \"b:eth1\"]`")
            return nil
        }
        let typed = mapping.keys.contains { $0.scalar?.string == "type" }
        guard let fields = fields(node, allowed: typed ? ContainerlabKeys.extendedLink : ContainerlabKeys.briefLink,
                                  what: "a link", expected: "a mapping") else { return nil }
        var link = DraftLink(endpoints: [], location: location(node))
        if let entry = fields["type"], let type = text(entry.value, "'type'"), type != "veth" {
            error(location(entry.value), "link type \(Names.quoted(type)) is not supported: nslab links are veth pairs between nodes of the lab",
                  hint: type == "host" || type == "mgmt-net" || type == "macvlan"
                    ? "a lab never connects to the host's own network; link two nodes instead"
                    : "use `type: veth` with two endpoints")
            return nil
        }
        for key in ["endpoint", "host-interface", "mode", "remote", "vni", "dst-port", "src-port"] {
            if let entry = fields[key] {
                error(entry.keyLocation, "'\(key)' belongs to containerlab's host, macvlan and vxlan links, which nslab does not make",
                      hint: "use a veth link between two nodes: `type: veth` with two endpoints")
            }
        }
        for key in ["vars", "labels"] { if let entry = fields[key] { reader.note(key: key, at: entry.keyLocation) } }
        if let entry = fields["mtu"] { link.mtu = mtu(entry.value) }
        guard let endpoints = fields["endpoints"] else {
            missing("endpoints", in: node, "the link has no 'endpoints'", hint: "write `endpoints: [\"a:eth1\", \"b:eth1\"]`")
            return nil
        }
        guard case .sequence(let items) = endpoints.value, items.count == 2 else {
            error(location(endpoints.value), "'endpoints' must be a list of 2 endpoints, found \(describe(endpoints.value))",
                  hint: "a link is one veth pair: write `endpoints: [\"a:eth1\", \"b:eth1\"]`")
            return nil
        }
        var ends = items.map { typed ? extendedEndpoint($0, reader: &reader) : briefEndpoint($0) }
        for key in ["ipv4", "ipv6"] {
            guard let entry = fields[key] else { continue }
            guard case .sequence(let list) = entry.value, list.count <= 2 else {
                error(location(entry.value), "'\(key)' must be a list with one address per endpoint, found \(describe(entry.value))")
                continue
            }
            for (index, item) in list.enumerated() where ends[index] != nil {
                if item.scalar?.string == "" { continue }  // containerlab's way to skip an endpoint
                if let address = interfaceAddress(item) { ends[index]?.addresses.append(address) }
            }
        }
        link.endpoints = ends.compactMap { $0 }
        return link.endpoints.count == 2 ? link : nil
    }

    /// "node:interface"; containerlab needs the interface.
    private mutating func briefEndpoint(_ node: YAMLNode) -> DraftEndpoint? {
        guard let text = text(node, "an endpoint", expected: "\"node:interface\"") else { return nil }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            error(location(node), "endpoint \(Names.quoted(text)) must be \"node:interface\"", hint: "e.g. \"client1:eth1\"")
            return nil
        }
        let interfaceAt = location(node, offset: parts[0].unicodeScalars.count + 1)
        if let problem = Names.interfaceNameProblem(parts[1]) { error(interfaceAt, problem) }
        return DraftEndpoint(node: Located(value: parts[0], location: location(node, offset: 0)),
                             interface: Located(value: parts[1], location: interfaceAt), location: location(node))
    }

    private mutating func extendedEndpoint(_ node: YAMLNode, reader: inout ContainerlabReader) -> DraftEndpoint? {
        guard let fields = fields(node, allowed: ContainerlabKeys.endpoint, what: "an endpoint",
                                  expected: "a mapping with 'node' and 'interface'") else { return nil }
        guard let nodeEntry = fields["node"], let nodeName = text(nodeEntry.value, "'node'"),
              let interfaceEntry = fields["interface"], let interface = text(interfaceEntry.value, "'interface'") else {
            if fields["node"] == nil || fields["interface"] == nil {
                error(location(node), "an endpoint needs 'node' and 'interface'", hint: "write { node: client1, interface: eth1 }")
            }
            return nil
        }
        if let problem = Names.interfaceNameProblem(interface) { error(location(interfaceEntry.value), problem) }
        var endpoint = DraftEndpoint(node: Located(value: nodeName, location: location(nodeEntry.value)),
                                     interface: Located(value: interface, location: location(interfaceEntry.value)),
                                     location: location(node))
        for key in ["ipv4", "ipv6"] {
            if let entry = fields[key], !isNull(entry.value) { endpoint.addresses += addressList(entry.value) }
        }
        if let entry = fields["mac"], let text = text(entry.value, "'mac'") {
            switch AddressSyntax.mac(text) {
            case .success(let bytes): endpoint.mac = bytes
            case .failure(let problem): error(location(entry.value), problem)
            }
        }
        if let entry = fields["vars"] { reader.note(key: "vars", at: entry.keyLocation) }
        return endpoint
    }

    // MARK: exec lines into the lab

    /// Addresses, MTUs and routes the exec lines set on the node's own link ends become the
    /// lab's; a line about anything else (an interface no link makes, a route whose gateway no
    /// address of the node reaches) runs in the node as a command, as containerlab would run it.
    private func apply(_ plans: [ContainerlabNodePlan], to lab: inout DraftLab) {
        var ends: [String: (link: Int, end: Int)] = [:]
        for (l, link) in lab.links.enumerated() {
            for (e, end) in link.endpoints.enumerated() {
                if let interface = end.interface { ends["\(end.node.value):\(interface.value)"] = (l, e) }
            }
        }
        for (n, plan) in plans.enumerated() {
            let name = plan.node.name
            var commands: [NodeCommand] = []
            var routes: [(raw: RouteSyntax.Raw, text: String, at: SourceLocation)] = []
            func command(_ argv: [String], _ text: String, _ at: SourceLocation) {
                let environment = plan.environment.map { "\($0.key.value)=\($0.value.value)" }
                let full = environment.isEmpty ? argv : ["env"] + environment + argv
                commands.append(NodeCommand(argv: full, text: text, location: at))
            }
            for (line, at, text) in plan.exec {
                switch line {
                case .address(let interface, let prefix):
                    guard let place = ends["\(name):\(interface.value)"] else { command(words(text), text, at); continue }
                    lab.links[place.link].endpoints[place.end].addresses.append(prefix)
                case .mtu(let interface, let value):
                    guard let place = ends["\(name):\(interface.value)"] else { command(words(text), text, at); continue }
                    lab.links[place.link].endpoints[place.end].mtu = value
                case .linkUp(let interface):
                    if ends["\(name):\(interface.value)"] == nil { command(words(text), text, at) }
                case .forwarding(let on):
                    if on { lab.nodes[n].kind = .router }
                case .route(let raw):
                    routes.append((raw, text, at))
                case .command(let argv):
                    command(argv, text, at)
                }
            }
            let subnets = lab.links.flatMap(\.endpoints).filter { $0.node.value == name }.flatMap { end in
                end.addresses.map { (interface: end.interface?.value ?? "", prefix: $0.value) }
            }
            for (raw, text, at) in routes {
                guard let route = RouteSyntax.build(raw).route else { continue }
                let reachable = route.gateway.map { gateway in
                    subnets.contains { ($0.interface == route.device?.value || route.device == nil) && $0.prefix.contains(gateway.value) }
                        || (gateway.value.isLinkLocalV6 && route.device.map { ends["\(name):\($0.value)"] != nil } == true)
                } ?? route.device.map { ends["\(name):\($0.value)"] != nil } ?? false
                if reachable { lab.nodes[n].routes.append(route) } else { command(words(text), text, at) }
            }
            lab.nodes[n].commands += commands
        }
    }

    private func words(_ text: String) -> [String] {
        (try? ShellWords.split(text).get().map(\.text)) ?? [text]
    }

    /// A bind's source, relative to the topology file's directory as containerlab takes it.
    func readBoundFile(_ source: String) -> Result<String, Problem> {
        var path = source
        if path.hasPrefix("~/"), let home = getenvHome() { path = home + path.dropFirst(1) }
        if !path.hasPrefix("/") {
            let directory = file.contains("/") ? String(file[..<(file.lastIndex(of: "/") ?? file.startIndex)]) : "."
            path = directory + "/" + path
        }
        do {
            let text = try Topology.readText(path: path)
            return .success(text)
        } catch {
            return .failure(Problem("cannot read bind source \(Names.quoted(source)) (\(path)): "
                                    + (error.diagnostics.first?.message ?? "unreadable"),
                                    hint: "binds are read relative to the topology file's directory"))
        }
    }
}

/// What one containerlab node becomes before its exec lines are matched with the links.
struct ContainerlabNodePlan {
    var node: DraftNode
    var environment: [(key: Located<String>, value: Located<String>)] = []
    var exec: [(line: ExecLine, location: SourceLocation, text: String)] = []
}

/// The levels a node inherits from (node > group > kind > defaults), and the notes said once.
struct ContainerlabReader {
    var defaults: [String: TopologyDecoder.Entry] = [:]
    var kinds: [String: [String: TopologyDecoder.Entry]] = [:]
    var groups: [String: [String: TopologyDecoder.Entry]] = [:]
    private(set) var notes: [Diagnostic] = []
    private var noted: Set<String> = []

    /// The node's own settings, its group's, its kind's and the defaults, most specific first,
    /// chosen as containerlab chooses them: the kind from the node, its group, the defaults'
    /// group or the defaults; the group from the node, its kind or the defaults.
    func levels(of node: [String: TopologyDecoder.Entry]) -> [[String: TopologyDecoder.Entry]] {
        let word = { (entry: TopologyDecoder.Entry?) in entry?.value.scalar?.string }
        let ownGroup = word(node["group"]).flatMap { groups[$0] }
        let kind = word(node["kind"]) ?? word(ownGroup?["kind"]) ?? word(word(defaults["group"]).flatMap { groups[$0] }?["kind"])
            ?? word(defaults["kind"])
        let kindLevel = kind.flatMap { kinds[$0] }
        let group = word(node["group"]) ?? word(kindLevel?["group"]) ?? word(defaults["group"])
        return [node, group.flatMap { groups[$0] } ?? [:], kindLevel ?? [:], defaults]
    }

    /// One note per key left aside, where it is first written.
    mutating func note(key: String, at place: SourceLocation) {
        guard noted.insert(key).inserted, let text = ContainerlabKeys.ignored[key] else { return }
        notes.append(Diagnostic(place, "'\(key)' \(text)"))
    }
}

#if canImport(Glibc)
import Glibc
#endif

private func getenvHome() -> String? { getenv("HOME").map { String(cString: $0) } }
