import Foundation
import NetAddress
import Namespaces
import Netlink
import Topology

/// `neighbours: static`: every link end gets permanent neighbour entries for the other end's
/// addresses, so no ARP or NDP is needed and the host-wide neighbour limit (gc_thresh3, 1,024
/// entries by default for all namespaces together) is never reached: permanent entries are
/// exempt from it. Ends without a MAC in the file get one chosen here, so both ends' entries
/// can be written before anything is looked up.
struct StaticNeighbours {
    private var macs: [String: [UInt8]] = [:]
    private var peers: [String: Endpoint] = [:]

    init?(_ topology: Topology) {
        guard LabDeployer.usesPermanentNeighbours(topology) else { return nil }
        for (number, link) in topology.links.enumerated() where link.endpoints.count == 2 {
            for (end, endpoint) in link.endpoints.enumerated() {
                // Locally administered, unicast; unique within the lab (link number, end), which is
                // all that matters: a MAC is only ever seen by the other end of its veth.
                macs[endpoint.id] = endpoint.mac ?? [0x02, 0x6e, UInt8(truncatingIfNeeded: number >> 16),
                                                     UInt8(truncatingIfNeeded: number >> 8),
                                                     UInt8(truncatingIfNeeded: number), UInt8(end)]
                peers[endpoint.id] = link.endpoints[1 - end]
            }
        }
    }

    func mac(of endpoint: Endpoint) -> [UInt8]? { macs[endpoint.id] }

    /// The permanent entries on `endpoint` (at interface `index`) for its peer's addresses.
    func requests(for endpoint: Endpoint, index: Int32) -> [NetlinkMessage] {
        entries(for: endpoint).map {
            NeighbourRequest.addPermanent($0.address, linkAddress: $0.mac, index: index, interface: endpoint.interface)
        }
    }

    /// The peer's addresses in the families `endpoint` has addresses of, with the peer's MAC.
    func entries(for endpoint: Endpoint) -> [PermanentNeighbour] {
        guard let peer = peers[endpoint.id], let mac = macs[peer.id] else { return [] }
        let families = Set(endpoint.addresses.map(\.family))
        return peer.addresses.filter { families.contains($0.family) }.map { PermanentNeighbour(address: $0.address, mac: mac) }
    }
}

extension LabDeployer {
    /// Permanent entries: when the file asks for them, or does not say and the lab's links
    /// would overflow the host's neighbour tables (a generated 1,000-leaf star failed its own
    /// verify without them). `neighbours: dynamic` keeps ARP and NDP whatever the size.
    static func usesPermanentNeighbours(_ topology: Topology) -> Bool {
        switch topology.neighbours {
        case .permanent?: return true
        case .dynamic?: return false
        case nil: return !neighbourTableOverflows(topology).isEmpty
        }
    }

    /// Per family whose entries would pass the host's gc_thresh2 when every link is used: the
    /// kernel keeps neighbour entries for all namespaces in tables bounded host-wide (gc_thresh3,
    /// 1,024 by default per family), starts evicting above gc_thresh2 (512), and refuses new
    /// entries at gc_thresh3: pings between nodes then fail for no reason visible in the lab.
    static func neighbourTableOverflows(_ topology: Topology) -> [String] {
        var problems: [String] = []
        for (family, directory) in [(IPAddress.Family.ipv4, "ipv4"), (.ipv6, "ipv6")] {
            let ends = topology.links.filter { link in
                link.endpoints.count == 2 && link.endpoints.allSatisfy { $0.addresses.contains { $0.family == family } }
            }.count * 2
            // Read on the caller's thread, in the host namespace: the limits are the host's.
            guard let soft = (try? Sysctl.read("net.\(directory).neigh.default.gc_thresh2")).flatMap({ Int($0) }),
                  let hard = (try? Sysctl.read("net.\(directory).neigh.default.gc_thresh3")).flatMap({ Int($0) }),
                  ends > soft else { continue }
            problems.append("\(ends) \(family) neighbour entries when every link is used, more than the host's "
                            + "gc_thresh2 (\(soft)); above gc_thresh3 (\(hard)) the kernel refuses new ones")
        }
        return problems
    }

    /// What deploy says, in one line, about the host-wide neighbour tables; nil when there is no risk.
    /// A lab that does not say gets permanent entries, and is told so; one that asks for
    /// `dynamic` is warned.
    public static func neighbourTableWarning(_ topology: Topology) -> String? {
        guard topology.neighbours != .permanent else { return nil }
        let problems = neighbourTableOverflows(topology)
        guard !problems.isEmpty else { return nil }
        if topology.neighbours == nil {
            return "permanent neighbour entries on every link: this lab's links would overflow the kernel's neighbour "
                + "tables, which all namespaces share (" + problems.joined(separator: "; ")
                + "); write `neighbours: dynamic` in the topology to keep ARP and NDP"
        }
        return "this lab may overflow the kernel's neighbour tables, which all namespaces share: "
            + problems.joined(separator: "; ")
            + ". Under traffic (nslab verify, pings between many nodes) some entries are evicted or never made and "
            + "those pings fail. Write `neighbours: static` in the topology, or leave the key out (permanent entries, "
            + "exempt from the limit), or raise net.ipv4.neigh.default.gc_thresh1/2/3 (and ipv6) on the host yourself."
    }
}
