import NetAddress

/// The keys the topology grammar accepts at each level, in the order the docs list them.
/// The decoder checks against these lists and a test compares them with
/// schema/nslab-topology.schema.json, so the schema cannot drift from what is accepted.
public enum TopologyKeys {
    public static let topLevel = ["name", "prefix", "nodes", "links", "expect", "neighbours", "addressing", "routing", "ttl", "hosts",
                                   "vxlan", "remote", "placed-on"]
    /// Inside `addressing:`.
    public static let addressing = ["ipv4", "ipv6", "ipv4-link", "ipv6-link"]
    /// Inside one node's mapping (`nodes: { r1: { … } }`).
    public static let node = ["kind", "routes", "files", "commands", "stp", "vlan-filtering", "as", "area", "router-id", "frr", "host"]
    public static let link = ["endpoints", "addresses", "mtu", "state", "impair", "flap", "vlan", "vlans", "native", "cost", "area", "vni", "vxlan"]
    /// The mapping form of an endpoint; the string form is "node:interface" or "node".
    public static let endpoint = ["node", "interface", "addresses", "mtu", "mac", "impair", "vlan", "vlans", "native", "cost"]
    /// The mapping form of one machine under `hosts:`; the string form is `ssh` alone.
    public static let host = ["ssh", "underlay", "nslab"]
    /// The top-level `vxlan:`.
    public static let vxlanPlan = ["vni", "port", "local"]
    /// A link's `vxlan:` (one end here, the other on the machine at `remote`).
    public static let tunnel = ["vni", "remote", "local", "port", "peer"]
    /// One node under `remote:`.
    public static let remoteNode = ["host", "kind", "as", "interfaces"]
    /// The mapping form of a node's `frr:`; the string form is `config` alone.
    public static let frr = ["config", "replace", "daemons"]
    /// One sub-interface in the mapping form of an endpoint's `vlans: { 10: { … } }`.
    public static let subinterface = ["interface", "addresses"]
    /// Inside `impair:` (on a link or an endpoint).
    public static let impairment = Impairment.keys
    /// Inside a link's `flap:`.
    public static let flap = FlapSchedule.keys
    /// The mapping form of a route.
    public static let route = ["to", "via", "dev", "metric"]
    /// The mapping form of an expectation; the string form is "A reaches B [via R1, R2]" or
    /// "A does not reach B".
    public static let expectation = ["from", "to", "reaches", "via"]
    /// Words after the destination in the string form of a route.
    public static let routeWords = ["via", "dev", "metric"]
}

/// The largest lab nslab accepts. A 100×100 torus (10,000 nodes, 20,000 links) fits; beyond
/// that a lab costs gigabytes of kernel memory and minutes of namespace setup, and the host's
/// neighbour and mount tables become the limit rather than nslab.
public enum TopologyLimits {
    public static let nodes = 10_000
    public static let links = 20_000
}

/// A value with where it was written.
struct Located<Value> {
    var value: Value
    var location: SourceLocation
}

/// What the decoder read, with a location for everything validation may complain about.
/// Only turned into the public model when no diagnostic was raised.
struct DraftLab {
    var name = ""
    var addressing: AddressPlan?
    var addressingLocation: SourceLocation?
    var routing: RoutingMode = .none
    /// nil: not written (deploy chooses by the lab's size).
    var neighbours: NeighbourMode?
    /// `ttl:`; nil: not written.
    var ttl: Int?
    var prefix = ""
    var prefixLocation: SourceLocation?
    var nodes: [DraftNode] = []
    var links: [DraftLink] = []
    var expectations: [Expectation] = []
    var format: TopologyFormat = .nslab
    var notes: [Diagnostic] = []
    /// `hosts:`, `vxlan:`, `remote:`, `placed-on:` (HostsSyntax.swift).
    var hosts: [LabHost] = []
    var vxlan = VXLANPlan()
    var vxlanLocation: SourceLocation?
    var remoteNodes: [RemoteNode] = []
    var placedOn: String?
}

struct DraftNode {
    var name: String
    var location: SourceLocation
    var kind: NodeKind = .host
    var routes: [DraftRoute] = []
    var files: [NodeFile] = []
    var commands: [NodeCommand] = []
    var stp: Located<Bool>?
    /// As written; validation sets `vlanFiltering` from it and the ports.
    var vlanFilteringWritten: Located<Bool>?
    var vlanFiltering = false
    /// `as:`, `area:`, `router-id:` and `frr:` (RoutingSyntax.swift).
    var asNumber: Located<UInt32>?
    var area: Located<OSPFArea>?
    var routerID: Located<IPAddress>?
    var frr: FRRSettings?
    var host: Located<String>?
}

struct DraftRoute {
    /// As written, host bits cleared only after validation complained about them.
    var destination: IPPrefix
    var isDefault: Bool
    var gateway: Located<IPAddress>?
    var device: Located<String>?
    var metric: UInt32?
    var location: SourceLocation
}

struct DraftEndpoint {
    var node: Located<String>
    /// nil until validation names it eth0, eth1, …
    var interface: Located<String>?
    var addresses: [Located<IPPrefix>] = []
    /// Where the endpoint's own `addresses:` key is, to catch addresses given twice.
    var ownAddressesLocation: SourceLocation?
    var mtu: UInt32?
    var mac: [UInt8]?
    var location: SourceLocation
    var impairment: Impairment?
    /// What the endpoint itself says about VLANs (it wins over the link's).
    var vlans: DraftVLANs?
    /// Resolved by validation: the port's VLANs on a bridge, the sub-interfaces elsewhere.
    var portVLANs: PortVLANs?
    var subinterfaces: [DraftSubinterface] = []
    /// OSPF cost of this end (`cost:`), over the link's.
    var cost: Located<UInt32>?
}

struct DraftLink {
    var endpoints: [DraftEndpoint]
    var mtu: UInt32?
    var location: SourceLocation
    var isDown = false
    var impairment: Impairment?
    var flap: FlapSchedule?
    /// `vlan`, `vlans` and `native` written on the link: they apply to each end that does not
    /// say otherwise.
    var vlans: DraftVLANs?
    /// OSPF cost of both ends and the link's OSPF area.
    var cost: Located<UInt32>?
    var area: Located<OSPFArea>?
    /// `vni:` (a link between hosts) and `vxlan:` (a tunnel end, HostsSyntax.swift).
    var vni: Located<UInt32>?
    var tunnel: Located<VXLANTunnel>?
}

/// `vlan`, `vlans` and `native` as written on a link or an endpoint, before it is known which
/// end is on a bridge (a port's VLANs) and which on a host or router (sub-interfaces).
struct DraftVLANs {
    /// `vlan: 10`: an access port.
    var access: Located<UInt16>?
    /// `vlans: [10, 20]`: a trunk on a bridge, sub-interfaces without addresses elsewhere.
    var list: Located<[Located<UInt16>]>?
    /// `vlans: { 10: …, 20: … }`: sub-interfaces with their settings.
    var subinterfaces: Located<[DraftSubinterface]>?
    /// `native: 1`: the VLAN a trunk sends and receives untagged.
    var native: Located<UInt16>?
    /// Where the mapping holding these keys is.
    var location: SourceLocation
}

struct DraftSubinterface {
    var vlan: Located<UInt16>
    /// As written; nil until validation names it PARENT.VLAN.
    var name: Located<String>?
    var addresses: [Located<IPPrefix>] = []
}
