import CShims
import Foundation
import NetAddress
import Netlink
import Namespaces
import Topology

/// Namespaces someone built by hand, written as the topology file that deploys the same kernel
/// state: their veth pairs with the interfaces' names, addresses, MTU, state and impairments,
/// routes, forwarding, bridges and their ports, VLAN sub-interfaces, /etc/netns files. What a
/// topology cannot say is listed in `notes` (the comments at the top of the file).
public struct Adoption: Sendable {
    /// Read back from `text`, so it is exactly what deploying the file gives.
    public var topology: Topology
    /// The topology file, notes first.
    public var text: String
    /// One line each: what the file leaves out or cannot say exactly.
    public var notes: [String]
    /// The namespaces' inodes when they were read, by namespace name: what `--manage` records.
    public var inodes: [String: UInt64]
}

public enum LabAdopter {
    /// Reads the namespaces `names` (each becomes the node of that name) and writes lab `lab`;
    /// `file` is where the text will be saved, for the locations of any complaint about it.
    public static func adopt(namespaces names: [String], lab: String, file: String) throws -> Adoption {
        try Privileges.check(for: "read namespaces")
        try checkNames(names)
        let observed = try ObservedLab.read(unrecorded: names)
        var builder = AdoptionBuilder(observed: observed, lab: lab)
        let topology = builder.build()
        let notes = builder.notes
        var header = ["Adopted by `nslab adopt` from the namespaces \(names.joined(separator: ", ")).",
                      "nslab gives every node its loopback up, a hosts file naming the lab's addresses and a resolv.conf",
                      "without name servers, unless the node has files of its own below."]
        if !notes.isEmpty { header += ["", "Not carried over, or not exactly:"] + notes.map { "- " + $0 } }
        let text = YAMLWriter.yaml(of: topology, header: header)
        let parsed: Topology
        do {
            parsed = try Topology.parse(yaml: text, file: file)
        } catch {
            throw LabError.refused("the namespaces cannot be written as a topology nslab accepts:\n\(error)\n"
                                   + "  (the file it would have written:)\n\(text)")
        }
        let inodes = Dictionary(observed.nodes.compactMap { node in node.inode.map { (node.namespace, $0) } },
                                uniquingKeysWith: { first, _ in first })
        return Adoption(topology: parsed, text: text, notes: notes, inodes: inodes)
    }

    /// Every name a namespace that exists; none listed twice; none already a lab's.
    static func checkNames(_ names: [String]) throws {
        guard !names.isEmpty else { throw LabError.refused("name the namespaces to adopt, e.g. `nslab adopt ns1 ns2`") }
        var problems: [String] = []
        var seen = Set<String>()
        let claimed = LabDeployer.otherLabsNamespaces(except: "")
        for name in names {
            if !seen.insert(name).inserted { problems.append("\(name) is named twice") }
            if let lab = claimed[name] {
                problems.append("\(name) is a namespace of lab \(lab) already: `nslab inspect \(lab)` shows it")
            } else if !NamedNamespaces.exists(name) {
                problems.append("there is no namespace \(name) (`ip netns list` shows the namespaces there are)")
            }
        }
        if !problems.isEmpty { throw LabError.refused("cannot adopt: " + problems.joined(separator: "; ")) }
    }
}

/// Turns what the kernel holds in each namespace into topology values, and says what it leaves
/// out. Nodes keep their namespace's name and interfaces their names.
struct AdoptionBuilder {
    let observed: ObservedLab
    let lab: String
    private(set) var notes: [String] = []
    private let here = SourceLocation(file: "adopted", line: 1, column: 1)

    init(observed: ObservedLab, lab: String) { self.observed = observed; self.lab = lab }

    mutating func build() -> Topology {
        var nodes: [Node] = []
        var links: [Link] = []
        var written = Set<InterfaceRef>()
        let bridgeNodes = Set(observed.nodes.filter { isSwitch($0) }.map(\.name))
        for node in observed.nodes {
            guard let kernel = node.kernel else { continue }
            nodes.append(self.node(node, kernel: kernel, isSwitch: bridgeNodes.contains(node.name)))
            for link in kernel.links where !link.isLoopback {
                let ref = InterfaceRef(node: node.name, interface: link.name)
                switch link.kind {
                case "veth":
                    guard !written.contains(ref) else { continue }
                    guard let peer = node.peers[link.name], let peerNode = observed.node(peer.node),
                          let peerKernel = peerNode.kernel, let peerLink = peerKernel.link(named: peer.interface) else {
                        note("\(ref) is a veth whose other end is not in the namespaces adopted: left out")
                        continue
                    }
                    written.formUnion([ref, peer])
                    links.append(self.link((node, kernel, link, bridgeNodes.contains(node.name)),
                                           (peerNode, peerKernel, peerLink, bridgeNodes.contains(peer.node))))
                case "vlan":
                    // Written with its parent, when that is a link end of a host or router.
                    let parent = link.peerIndex.flatMap { kernel.name(ofIndex: $0) }.flatMap { kernel.link(named: $0) }
                    if parent?.interfaceKind != .veth || bridgeNodes.contains(node.name) {
                        note("\(ref) is an 802.1Q sub-interface of \(parent?.name ?? "an interface outside the namespace"): "
                             + "a topology has them on the veth ends of hosts and routers only; left out")
                    }
                case "bridge":
                    break  // the node's kind, or noted with it
                default:
                    note("\(ref) is a \(link.kind ?? "device") interface: nslab makes veth pairs, bridges and 802.1Q "
                         + "sub-interfaces only; left out")
                }
            }
        }
        noteProcesses()
        var topology = Topology(name: lab, nodes: nodes, links: links, file: "adopted")
        topology.ttl = ttl()
        return topology
    }

    /// `ttl:` when every node sends with the same TTL and hop limit other than the kernel's 64
    /// (a lab with long paths made by hand); nodes that differ are noted and left to the default.
    private mutating func ttl() -> Int? {
        var found: [Int: [String]] = [:]
        for node in observed.nodes {
            guard let kernel = node.kernel else { continue }
            for value in Set(kernel.ttls) { found[value, default: []].append(node.name) }
        }
        if found.count == 1, let only = found.keys.first, only != PacketTTL.kernelDefault { return only }
        if found.count > 1 {
            let described = found.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value.prefix(3).joined(separator: ", "))"
                + ($0.value.count > 3 ? ", …" : "") + ")" }
            note("the nodes send with different TTLs or hop limits, " + described.joined(separator: "; ")
                 + ": a topology has one `ttl:` for every node; left out")
        }
        return nil
    }

    mutating func note(_ text: String) { notes.append(text) }

    /// Processes keep running where they are; the file does not start them again.
    private mutating func noteProcesses() {
        let namespaceOf = Dictionary(observed.nodes.compactMap { node in node.inode.map { ($0, node.name) } },
                                     uniquingKeysWith: { first, _ in first })
        let found = NamespaceProcesses.pids(inNamespacesWithInodes: Set(namespaceOf.keys))
        for (inode, name) in namespaceOf.sorted(by: { $0.value < $1.value }) {
            let pids = found.filter { $0.inode == inode }.map(\.pid).sorted()
            guard !pids.isEmpty else { continue }
            note("\(name) runs \(counted(pids.count, "process", "processes")) (pid \(pids.map(String.init).joined(separator: ", "))): "
                 + "a topology starts its own (`commands:`); not carried over")
        }
    }

    // MARK: nodes

    /// A namespace that is one Linux bridge br0 whose ports are all its veths, with no address
    /// or route: nslab's switch node.
    func isSwitch(_ node: ObservedNode) -> Bool {
        guard let kernel = node.kernel else { return false }
        let bridges = kernel.links.filter { $0.interfaceKind == .bridge }
        guard bridges.count == 1, bridges[0].name == LabDeployer.bridgeName else { return false }
        let veths = kernel.links.filter { $0.interfaceKind == .veth }
        return !veths.isEmpty && veths.allSatisfy { $0.master == bridges[0].index }
            && kernel.links.filter { !$0.isLoopback }.allSatisfy { kernel.declarableAddresses(of: $0.index).isEmpty }
            && kernel.staticRoutes.isEmpty
    }

    private mutating func node(_ node: ObservedNode, kernel: ObservedKernelState, isSwitch: Bool) -> Node {
        let name = node.name
        var result = Node(name: name, location: here)
        if isSwitch, let bridge = kernel.link(named: LabDeployer.bridgeName) {
            result.kind = .bridge
            result.stp = (bridge.stpState ?? 0) != 0
            result.vlanFiltering = bridge.vlanFiltering ?? false
            if kernel.forwardingIPv4 == true || kernel.forwardingIPv6 == true {
                note("\(name) forwards IP packets; as a switch (bridge br0) nslab turns its forwarding off")
            }
        } else {
            for bridge in kernel.links where bridge.interfaceKind == .bridge {
                note("\(name):\(bridge.name) is a bridge in a namespace that also has addresses, routes, other interfaces "
                     + "or another name than br0: nslab's switch is a node of its own whose only bridge is br0 and whose "
                     + "every veth is a port; left out, its ports written as plain link ends")
            }
            result.kind = forwardingKind(name, kernel)
        }
        result.routes = routes(name, kernel)
        noteLoopback(name, kernel)
        noteNeighbours(name, kernel)
        result.files = files(node)
        return result
    }

    private mutating func forwardingKind(_ name: String, _ kernel: ObservedKernelState) -> NodeKind {
        switch (kernel.forwardingIPv4 ?? false, kernel.forwardingIPv6 ?? false) {
        case (true, true): return .router
        case (false, false):
            if !kernel.staticRoutes.isEmpty && kernel.links.filter({ $0.interfaceKind == .veth }).count > 1 {
                note("\(name) has several links and routes but forwards nothing (a namespace takes IPv4 forwarding from "
                     + "the host's when it is made): written as a host, as it is; `kind: router` makes it forward")
            }
            return .host
        case (let ipv4, _):
            note("\(name) forwards IPv\(ipv4 ? 4 : 6) only; a router forwards both: written as a router, which turns "
                 + "IPv\(ipv4 ? 6 : 4) forwarding on too")
            return .router
        }
    }

    private mutating func noteLoopback(_ name: String, _ kernel: ObservedKernelState) {
        guard let loopback = kernel.links.first(where: \.isLoopback) else { return }
        let extra = kernel.declarableAddresses(of: loopback.index).filter {
            $0 != IPPrefix("127.0.0.1/8") && $0 != IPPrefix("::1/128")
        }
        if !extra.isEmpty {
            note("\(name):\(loopback.name) has \(extra.map(\.description).joined(separator: ", ")): addresses on lo are not "
                 + "in a topology; left out")
        }
    }

    private mutating func noteNeighbours(_ name: String, _ kernel: ObservedKernelState) {
        for link in kernel.links where !kernel.permanentNeighbours(of: link.index).isEmpty {
            note("\(name):\(link.name) has permanent neighbour entries: a topology has them for every link or none "
                 + "(`neighbours: static`); left out")
        }
    }

    /// The node's /etc/netns files, each a regular file; anything else there is noted.
    private mutating func files(_ node: ObservedNode) -> [NodeFile] {
        let directory = NodeFiles.directory(of: node.namespace)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        var files: [NodeFile] = []
        for name in names {
            guard let content = node.files[name] else {
                note("\(directory)/\(name) is not a regular file: a topology gives a node files only; left out")
                continue
            }
            files.append(NodeFile(name: name, content: content, location: here))
        }
        return files
    }

    // MARK: routes

    private mutating func routes(_ node: String, _ kernel: ObservedKernelState) -> [Route] {
        var routes: [Route] = []
        for route in kernel.routes where route.protocolID != UInt8(RTPROT_KERNEL) && !route.destination.address.isMulticast {
            let text = "\(node): route \(route.destination)"
            guard route.type == UInt8(RTN_UNICAST) else {
                note("\(text) is a \(route.typeName ?? "special") route: a topology's routes are unicast; left out")
                continue
            }
            guard route.protocolID == UInt8(RTPROT_BOOT) || route.protocolID == UInt8(RTPROT_STATIC) else {
                note("\(text) came from protocol \(route.protocolName) (a daemon or the kernel's autoconfiguration); left out")
                continue
            }
            if route.protocolID == UInt8(RTPROT_STATIC) {
                note("\(text) is `proto static`; nslab adds routes as `ip route add` does, `proto boot`")
            }
            if let source = route.preferredSource { note("\(text) has `src \(source)`, which a topology cannot say; left out") }
            let device = route.outputIndex.flatMap { kernel.name(ofIndex: Int32($0)) }
            guard route.gateway != nil || device != nil else {
                note("\(text) has neither a gateway nor a device (a multipath route?); left out")
                continue
            }
            routes.append(Route(destination: route.destination, gateway: route.gateway,
                                device: needsDevice(route, device: device, kernel) ? device : nil,
                                metric: route.metric == defaultMetric(route.family) ? nil : route.metric, location: here))
        }
        return routes
    }

    private func defaultMetric(_ family: IPAddress.Family) -> UInt32 { family == .ipv6 ? 1024 : 0 }

    /// `dev` is written when the gateway does not choose the interface by itself: no gateway, a
    /// link-local one, or one on the subnets of several interfaces.
    private func needsDevice(_ route: RouteInfo, device: String?, _ kernel: ObservedKernelState) -> Bool {
        guard let gateway = route.gateway, !gateway.isLinkLocalV6 else { return true }
        let onSubnet = kernel.links.filter { link in kernel.declarableAddresses(of: link.index).contains { $0.contains(gateway) } }
        return onSubnet.count != 1 || onSubnet[0].name != device
    }

    // MARK: links

    typealias End = (node: ObservedNode, kernel: ObservedKernelState, link: LinkInfo, onSwitch: Bool)

    private mutating func link(_ a: End, _ b: End) -> Link {
        var endpoints = [endpoint(a), endpoint(b)]
        var link = Link(endpoints: [], location: here)
        switch (a.link.isUp, b.link.isUp) {
        case (true, true): break
        case (false, false): link.isDown = true
        default:
            let down = a.link.isUp ? b : a
            note("\(down.node.name):\(down.link.name) is down but its peer is up: a topology's link is up or down as a "
                 + "whole; written up")
        }
        if let shared = endpoints[0].impairment, shared == endpoints[1].impairment {
            link.impairment = shared
            endpoints[0].impairment = nil
            endpoints[1].impairment = nil
        }
        link.endpoints = endpoints
        return link
    }

    private mutating func endpoint(_ end: End) -> Endpoint {
        let (node, kernel, link, onSwitch) = end
        var endpoint = Endpoint(node: node.name, interface: link.name, location: here)
        endpoint.addresses = kernel.declarableAddresses(of: link.index)
        noteAddressDetails(node.name, kernel, link)
        if let mtu = link.mtu, mtu != 1500 { endpoint.mtu = mtu }
        endpoint.impairment = kernel.impairment(of: link.index)
        // A veth's own root qdisc is noqueue (noop while it has never been up).
        if endpoint.impairment == nil,
           let qdisc = kernel.qdiscs.first(where: { $0.index == link.index && !["noqueue", "noop"].contains($0.kind) }) {
            note("\(node.name):\(link.name) has a \(qdisc.kind) root qdisc: a topology impairs links with netem or tbf only; left out")
        }
        if onSwitch {
            if let vlans = kernel.portVLANs(of: link.index), kernel.link(named: LabDeployer.bridgeName)?.vlanFiltering == true {
                endpoint.portVLANs = portVLANs(vlans, at: "\(node.name):\(link.name)")
            }
        } else {
            if let master = link.master, let bridge = kernel.name(ofIndex: master) {
                note("\(node.name):\(link.name) is a port of \(bridge), which is left out")
            }
            endpoint.subinterfaces = subinterfaces(of: link, kernel: kernel, node: node.name)
        }
        return endpoint
    }

    private mutating func noteAddressDetails(_ node: String, _ kernel: ObservedKernelState, _ link: LinkInfo) {
        for address in kernel.addresses where address.index == UInt32(link.index) && !address.prefix.address.isLinkLocalV6 {
            if let label = address.label, label != link.name {
                note("\(node): \(address.prefix) has the label \(label), which a topology cannot give; left out")
            }
        }
    }

    private mutating func portVLANs(_ state: PortVLANState, at place: String) -> PortVLANs? {
        let wanted = PortVLANs(untagged: state.pvid, tagged: state.tagged.sorted())
        if state.untagged.sorted() == (state.pvid.map { [$0] } ?? []) { return wanted == .kernelDefault ? nil : wanted }
        note("\(place) sends VLANs \(state.untagged.map(String.init).joined(separator: ",")) untagged; a topology's port sends "
             + "its PVID only untagged; written as \(wanted.text)")
        return wanted
    }

    private mutating func subinterfaces(of parent: LinkInfo, kernel: ObservedKernelState, node: String) -> [Subinterface] {
        kernel.links.filter { $0.interfaceKind == .vlan && $0.peerIndex == parent.index }.compactMap { sub in
            guard let id = sub.vlanID else { return nil }
            if !sub.isUp { note("\(node):\(sub.name) is down; nslab brings sub-interfaces up") }
            return Subinterface(vlan: id, name: sub.name, addresses: kernel.declarableAddresses(of: sub.index), location: here)
        }
    }
}
