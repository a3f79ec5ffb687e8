import NetAddress
import Yams

/// An OSPF area: a 32-bit number, written as a whole number (`area: 1`) or dotted like an IPv4
/// address (`area: 0.0.0.1`); FRR takes either.
public struct OSPFArea: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public static let backbone = OSPFArea(0)

    /// Dotted, as FRR prints it in `show ip ospf`.
    public var description: String { IPAddress.v4(value).description }

    public static func < (a: OSPFArea, b: OSPFArea) -> Bool { a.value < b.value }

    init?(text: String) {
        if let number = UInt32(text) { self.init(number); return }
        guard case .v4(let value)? = IPAddress(text), text.split(separator: ".").count == 4 else { return nil }
        self.init(value)
    }
}

/// A node's own FRR configuration (`frr:`): for everything the generated one does not say.
public struct FRRSettings: Sendable, Equatable {
    /// frr.conf lines, as `vtysh` would take them.
    public var config: String
    /// True: `config` is the node's whole frr.conf; false: it follows the generated one.
    public var replacesGenerated: Bool
    /// Daemons to run besides zebra, staticd and those the lab's routing needs (bfdd, pimd, …).
    public var daemons: [String]
    public var location: SourceLocation

    public init(config: String, replacesGenerated: Bool = false, daemons: [String] = [], location: SourceLocation) {
        self.config = config; self.replacesGenerated = replacesGenerated; self.daemons = daemons; self.location = location
    }
}

/// FRR's daemons by the names its `daemons` file uses. zebra and staticd run on every FRR node;
/// the others when the routing or the node's `frr:` asks for them.
public enum FRRDaemons {
    public static let all = ["zebra", "staticd", "bgpd", "ospfd", "ospf6d", "ripd", "ripngd", "isisd", "pimd", "pim6d",
                             "ldpd", "nhrpd", "eigrpd", "babeld", "sharpd", "pbrd", "bfdd", "fabricd", "vrrpd", "pathd"]
    public static let always = ["zebra", "staticd"]
}

/// The private AS numbers `routing: bgp` hands out (RFC 6996): 65001… while they last, then
/// from the 32-bit private range.
public enum PrivateAS {
    public static func number(forRouter index: Int, of count: Int) -> UInt32 {
        count <= 534 ? 65001 + UInt32(index) : 4_200_000_001 + UInt32(index)
    }
}

extension TopologyDecoder {
    /// A node's `as:`, `area:` and `frr:`.
    mutating func decodeNodeRouting(_ fields: [String: Entry], into node: inout DraftNode) {
        if let entry = fields["as"], let value = integer(entry.value, "'as'", in: 1...4_294_967_294) {
            node.asNumber = Located(value: UInt32(value), location: location(entry.value))
        }
        if let entry = fields["area"] { node.area = area(entry.value) }
        if let entry = fields["router-id"] { node.routerID = routerID(entry.value) }
        if let entry = fields["frr"], !isNull(entry.value) { node.frr = frrSettings(entry.value, node: node.name) }
    }

    /// OSPF cost: 1 to 65535, as FRR takes it.
    mutating func cost(_ node: YAMLNode) -> Located<UInt32>? {
        integer(node, "'cost'", in: 1...65535).map { Located(value: UInt32($0), location: location(node)) }
    }

    /// A router ID: four dotted numbers, as OSPF and BGP write it, not 0.0.0.0.
    mutating func routerID(_ node: YAMLNode) -> Located<IPAddress>? {
        guard let text = text(node, "'router-id'", expected: "a router ID such as 10.255.0.1") else { return nil }
        guard case .v4(let value)? = IPAddress(text), value != 0, text.split(separator: ".").count == 4 else {
            error(location(node), "'router-id' must be four dotted numbers other than 0.0.0.0, as OSPF and BGP write it, found \(Names.quoted(text))",
                  hint: "e.g. `router-id: 10.255.0.1`")
            return nil
        }
        return Located(value: .v4(value), location: location(node))
    }

    mutating func area(_ node: YAMLNode) -> Located<OSPFArea>? {
        guard let text = text(node, "'area'", expected: "an OSPF area such as 0, 1 or 0.0.0.1") else { return nil }
        guard let area = OSPFArea(text: text) else {
            error(location(node), "'area' must be an OSPF area: a whole number up to 4294967295 or four dotted numbers, "
                  + "found \(Names.quoted(text))", hint: "write `area: 0` for the backbone, `area: 1` or `area: 0.0.0.1` for another")
            return nil
        }
        return Located(value: area, location: location(node))
    }

    private mutating func frrSettings(_ value: YAMLNode, node: String) -> FRRSettings? {
        let here = location(value)
        if case .scalar(let scalar) = value {
            return FRRSettings(config: scalar.string, location: here)
        }
        guard let fields = fields(value, allowed: TopologyKeys.frr, what: "'frr' of node \(Names.quoted(node))",
                                  expected: "FRR configuration lines, or a mapping with 'config', 'replace' and 'daemons'",
                                  hint: "write `frr: |` and the lines, as in frr.conf; "
                                      + "`frr: { config: …, replace: true }` to use them instead of the generated configuration")
        else { return nil }
        var settings = FRRSettings(config: "", location: here)
        if let entry = fields["config"], let text = text(entry.value, "'config'", expected: "frr.conf lines") {
            settings.config = text
        }
        if let entry = fields["replace"] {
            if case .scalar(let scalar) = entry.value, tagName(entry.value) == .bool {
                settings.replacesGenerated = ["true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"].contains(scalar.string)
            } else {
                error(location(entry.value), "'replace' must be true or false, found \(describe(entry.value))")
            }
        }
        if let entry = fields["daemons"] {
            guard case .sequence(let items) = entry.value else {
                error(location(entry.value), "'daemons' must be a list of FRR daemons, found \(describe(entry.value))",
                      hint: "e.g. `daemons: [bfdd]`")
                return settings
            }
            for item in items {
                guard let name = text(item, "a daemon") else { continue }
                if FRRDaemons.all.contains(name) {
                    if !settings.daemons.contains(name) { settings.daemons.append(name) }
                } else {
                    error(location(item), "unknown FRR daemon \(Names.quoted(name))",
                          hint: Suggest.didYouMean(name, among: FRRDaemons.all)
                              ?? "FRR's daemons are \(FRRDaemons.all.joined(separator: ", "))")
                }
            }
        }
        return settings
    }
}

/// What the routing settings need of the rest of the lab: `as`, `area` and `cost` only where a
/// protocol uses them, addresses on every link between routers, areas that agree, no two
/// neighbouring routers in the same AS.
extension Validator {
    mutating func checkRouting(_ lab: DraftLab) {
        let routing = lab.routing
        let why = "it is used by routing: "
        for node in lab.nodes {
            if let written = node.asNumber, routing != .bgp {
                error(written.location, "'as' on node \(Names.quoted(node.name)) is unused: \(why)bgp",
                      hint: "add `routing: bgp` at the top level, or remove it")
            }
            if let written = node.area, routing != .ospf {
                error(written.location, "'area' on node \(Names.quoted(node.name)) is unused: \(why)ospf",
                      hint: "add `routing: ospf` at the top level, or remove it")
            }
            if let written = node.routerID, !routing.isDynamic {
                error(written.location, "'router-id' on node \(Names.quoted(node.name)) is unused: \(why)ospf or bgp",
                      hint: "add `routing: ospf` or `routing: bgp` at the top level, or remove it")
            }
            if let frr = node.frr, node.kind == .bridge {
                error(frr.location, "bridge \(Names.quoted(node.name)) cannot run FRR: it is a switch, with no addresses",
                      hint: "give `frr:` to a router plugged into it")
            }
        }
        for link in lab.links {
            let writtenOSPF = [link.cost?.location, link.area?.location] + link.endpoints.map { $0.cost?.location }
            if routing != .ospf, let location = writtenOSPF.compactMap({ $0 }).first {
                error(location, "OSPF settings on a link are unused: \(why)ospf",
                      hint: "add `routing: ospf` at the top level, or remove 'cost' and 'area'")
            }
        }
        guard routing == .ospf || routing == .bgp else { return }
        var routerIDs: [IPAddress: String] = [:]
        for node in lab.nodes {
            guard let written = node.routerID else { continue }
            if let other = routerIDs[written.value] {
                error(written.location, "routers \(Names.quoted(other)) and \(Names.quoted(node.name)) have the same router-id \(written.value): "
                      + "OSPF and BGP tell routers apart by it", hint: "give each router its own 'router-id'")
            } else {
                routerIDs[written.value] = node.name
            }
        }
        let nodes = Dictionary(lab.nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let routers = Set(lab.nodes.filter { $0.kind == .router }.map(\.name))
        for link in lab.links where link.endpoints.count == 2 {
            let ends = link.endpoints.map(\.node.value)
            guard ends.allSatisfy(routers.contains) else { continue }
            let families = link.endpoints.map { Set($0.addresses.map(\.value.family)) }
            if families[0].intersection(families[1]).isEmpty && link.endpoints.allSatisfy({ $0.subinterfaces.isEmpty }) {
                error(link.location, "the link between routers \(Names.quoted(ends[0])) and \(Names.quoted(ends[1])) has no addresses "
                      + "of one family on both ends: routing: \(routing.rawValue) needs them to speak to each other",
                      hint: "give both ends addresses, or let the lab have them: `addressing: { ipv4: 10.0.0.0/16 }`")
            }
            if routing == .ospf, link.area == nil, let a = nodes[ends[0]]?.area, let b = nodes[ends[1]]?.area, a.value != b.value {
                error(link.location, "routers \(Names.quoted(ends[0])) (area \(a.value)) and \(Names.quoted(ends[1])) (area \(b.value)) "
                      + "disagree on this link's OSPF area: no adjacency would form",
                      hint: "say which on the link: `area: \(a.value)`")
            }
            if routing == .bgp, let a = nodes[ends[0]]?.asNumber, let b = nodes[ends[1]]?.asNumber, a.value == b.value {
                error(b.location, "routers \(Names.quoted(ends[0])) and \(Names.quoted(ends[1])) are neighbours in the same AS \(a.value): "
                      + "routing: bgp makes eBGP sessions, one AS per router",
                      hint: "give them different 'as', or write iBGP yourself in their `frr:`")
            }
        }
    }
}
