import NetAddress
import Netlink
import Topology

/// How a link's ends are joined. What differs between kinds is kept here: the far end, whether
/// an interface in the kernel is the one planned, the request that makes it, how a change and a
/// script name it.
public enum LinkKind: Sendable, Equatable {
    /// A veth pair, one end in each node.
    case veth
    /// One end here, joined by VXLAN to a machine elsewhere (a spread lab's link between hosts,
    /// or a link's own `vxlan:`).
    case vxlan(VXLANTunnel)

    /// The kernel's name of the kind (IFLA_INFO_KIND).
    public var kernelKind: String {
        switch self {
        case .veth: "veth"
        case .vxlan: "vxlan"
        }
    }

    /// What end `index` of `ends` is joined to: the other end of a veth, the tunnel's far end.
    func peer(of index: Int, ends: [InterfaceRef]) -> InterfaceRef {
        switch self {
        case .veth:
            return ends[1 - index]
        case .vxlan(let tunnel):
            return tunnel.farEnd
        }
    }

    /// True when `link`, found where an end of this kind is planned, is that end as made.
    func matches(_ link: LinkInfo) -> Bool {
        switch self {
        case .veth:
            return link.interfaceKind == .veth
        case .vxlan(let tunnel):
            guard link.interfaceKind == .vxlan, let info = link.vxlan else { return false }
            return info.vni == tunnel.vni && info.remote == tunnel.remote && (info.port ?? VXLANPlan.defaultPort) == tunnel.port
                && (tunnel.local == nil || info.local == tunnel.local)
        }
    }

    /// "r1:eth0 -- r2:eth0", "r1:eth0 -- vxlan 10000 to 192.0.2.2 (r2:eth0)".
    func text(ends: [InterfaceRef]) -> String {
        switch self {
        case .veth:
            return "\(ends[0]) -- \(ends[1])"
        case .vxlan(let tunnel):
            return "\(ends[0]) -- vxlan \(tunnel.vni) to \(tunnel.remote)" + (tunnel.peer.map { " (\($0))" } ?? "")
        }
    }

    /// The VXLAN request for end `name`, created in the node whose namespace is open at `namespaceFD`;
    /// sent from a socket in the machine's own namespace, where the tunnel's UDP socket then lives.
    static func tunnelRequest(_ tunnel: VXLANTunnel, name: String, namespaceFD: Int32, index: Int32,
                              mtu: UInt32?, mac: [UInt8]?) -> NetlinkMessage {
        LinkRequest.createVXLAN(VXLANEnd(name: name, namespaceFD: namespaceFD, index: index, mtu: mtu, mac: mac,
                                         vni: tunnel.vni, local: tunnel.local, remote: tunnel.remote, port: tunnel.port))
    }

    /// `ip link add NAME netns NS … type vxlan …`, as `nslab script` prints it.
    static func tunnelCommand(_ tunnel: VXLANTunnel) -> String {
        "type vxlan id \(tunnel.vni)" + (tunnel.local.map { " local \($0)" } ?? "") + " remote \(tunnel.remote) dstport \(tunnel.port)"
    }
}

extension VXLANTunnel {
    /// The interface at the far end, or the tunnel itself when it names none.
    var farEnd: InterfaceRef { peerEnd ?? InterfaceRef(node: "\(remote)", interface: "vni \(vni)") }
}
