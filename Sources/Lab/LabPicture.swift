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
        return Picture(topology, live: liveState(network.state))
    }

    /// Each node's veth ends (by `node:interface`) and the nodes whose namespace is gone.
    public static func liveState(_ state: LabState) -> LiveState {
        var ends: [String: LiveState.End] = [:]
        for node in state.nodes where node.present {
            for interface in node.interfaces where interface.kind != nil {
                ends["\(node.name):\(interface.name)"] = LiveState.End(
                    up: interface.up, carrier: interface.carrier, addresses: interface.addresses,
                    impairment: interface.impairment)
            }
        }
        var live = LiveState(ends: ends, missingNodes: Set(state.nodes.filter { !$0.present }.map(\.name)))
        live.stoppedNodes = Set(state.nodes.filter { $0.stopped == true }.map(\.name))
        return live
    }
}
