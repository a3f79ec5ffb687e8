import Drawing
import Topology

/// `nslab graph LAB`: a deployed lab as Drawing pictures it, its links and impairments as the
/// kernel has them now (read as `inspect` reads them: operstate and carrier of each veth end,
/// addresses, root qdiscs), over the topology it was deployed from.
public enum LabPicture {
    public static func read(lab: String) throws -> Picture {
        let network = try LabNetwork.read(lab: lab)
        guard let topology = network.topology else {
            throw LabError.record(lab: lab, problem: "its copy of the topology file is missing or no longer reads")
        }
        return Picture(topology, live: liveState(network.observed))
    }

    /// A lab spread over hosts: the whole lab as recorded here, each host's part as that host's
    /// `nslab inspect` reads it now. The nodes of a host that cannot be read are drawn as gone;
    /// `unread` says which hosts and why.
    public static func readSpread(lab: String) throws -> (picture: Picture, unread: [String]) {
        let whole = try SpreadLab.recorded(lab: lab)
        var live = SpreadLab.hasLocalNodes(lab: lab)
            ? liveState(try LabNetwork.read(lab: lab).observed) : LiveState(ends: [:])
        let hosts = whole.hostsWithNodes.map(RemoteHost.init)
        defer { RemoteHosts.closeConnections(hosts) }
        var unread: [String] = []
        for (host, outcome) in zip(hosts, RemoteHosts.each(hosts) { RemoteHosts.nslab($0, ["inspect", "--json", lab]) }) {
            switch SpreadParts.decode(LabState.self, outcome) {
            case .success(let state):
                for node in state.nodes {
                    if !node.present { live.missingNodes.insert(node.name) }
                    if node.stopped == true { live.stoppedNodes.insert(node.name) }
                    for interface in node.interfaces where interface.kind != nil {
                        live.ends["\(node.name):\(interface.name)"] = LiveState.End(
                            up: interface.up, carrier: interface.carrier, addresses: interface.addresses, impairment: interface.impairment)
                    }
                }
            case .failure(let error):
                unread.append("\(error)")
                live.missingNodes.formUnion(whole.nodes.filter { $0.host == host.name }.map(\.name))
            }
        }
        return (Picture(whole, live: live), unread)
    }

    /// Each node's link ends, sub-interfaces and bridges (by `node:interface`), and the nodes
    /// whose namespace is gone or that are stopped.
    public static func liveState(_ observed: ObservedLab) -> LiveState {
        var ends: [String: LiveState.End] = [:]
        for node in observed.nodes {
            guard let kernel = node.kernel else { continue }
            let addresses = kernel.addressesByIndex
            for link in kernel.links where link.kind != nil {
                ends["\(node.name):\(link.name)"] = LiveState.End(
                    up: link.isUp, carrier: link.hasCarrier, addresses: (addresses[link.index] ?? []).map(\.description),
                    impairment: kernel.impairment(of: link.index))
            }
        }
        var live = LiveState(ends: ends, missingNodes: Set(observed.nodes.filter { !$0.present }.map(\.name)))
        live.stoppedNodes = Set(observed.nodes.filter(\.stopped).map(\.name))
        return live
    }
}
