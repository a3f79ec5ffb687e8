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
