import Netlink
import Topology
#if canImport(Glibc)
import Glibc
#endif

extension PortVLANs {
    /// What `bridge vlan add` gives a new port of a VLAN-filtering bridge, which the kernel puts
    /// in VLAN 1 (PVID, untagged), to make it this port, in order; then `removesDefaultVLAN`
    /// says whether `bridge vlan del … vid 1` follows.
    var additions: [BridgeVLAN] {
        (untagged.map { [BridgeVLAN(vid: $0, pvid: true, untagged: true)] } ?? []) + tagged.map { BridgeVLAN(vid: $0) }
    }

    var removesDefaultVLAN: Bool { !carries(1) }
}

extension LabDeployer {
    /// The requests that make `endpoint` (at `index`) what the topology says beyond a veth end:
    /// a port's VLANs, or its 802.1Q sub-interfaces (created, tagged with the alias, addressed).
    static func vlanRequests(for endpoint: Endpoint, index: Int32, on node: DeployedNode) -> [NetlinkMessage] {
        var requests: [NetlinkMessage] = []
        if let vlans = endpoint.portVLANs {
            requests += vlans.additions.map { BridgeVLANRequest.add($0, index: index, interface: endpoint.interface) }
            if vlans.removesDefaultVLAN { requests.append(BridgeVLANRequest.delete(vid: 1, index: index, interface: endpoint.interface)) }
        }
        for sub in endpoint.subinterfaces {
            guard let subIndex = node.interfaceIndexes[sub.name] else { continue }
            requests.append(LinkRequest.createVLAN(name: sub.name, index: subIndex, parent: index, vlan: sub.vlan))
            requests += sub.addresses.map { AddressRequest.add($0, index: UInt32(subIndex), interface: sub.name) }
        }
        return requests
    }

    /// A kernel built without 802.1Q (CONFIG_VLAN_8021Q off, and so no
    /// CONFIG_BRIDGE_VLAN_FILTERING) answers EOPNOTSUPP to VLAN filtering, to `bridge vlan` and
    /// to a vlan link ("Unknown device type"): said as what it means, not as the bare errno.
    static func vlanRefusal(_ error: NetlinkError) -> LabError? {
        let unsupported = error.code == EOPNOTSUPP || error.kernelMessage?.contains("Unknown device type") == true
        guard unsupported, error.request.contains("vlan") else { return nil }
        return .refused("this kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q is off, and with it "
                        + "CONFIG_BRIDGE_VLAN_FILTERING), so bridge ports in VLANs ('vlan', 'vlans') and 802.1Q sub-interfaces "
                        + "cannot be built on it; everything the deploy had made was removed. Bridges without VLANs, and 'stp', "
                        + "work on it. (The kernel refused: \(error))")
    }
}
