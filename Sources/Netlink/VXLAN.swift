import CShims
import NetAddress

/// A VXLAN interface: an Ethernet segment carried in UDP between two underlay addresses. The
/// socket lives in the namespace of the netlink socket that creates the interface (the host's),
/// the interface itself in the namespace IFLA_NET_NS_FD names (a lab node), so a node's link to a
/// node on another machine never appears in the host's own namespace.
public struct VXLANEnd: Sendable, Equatable {
    public var name: String
    /// An open namespace fd the interface is created in; nil for the sending socket's own.
    public var namespaceFD: Int32?
    public var index: Int32
    public var mtu: UInt32?
    public var mac: [UInt8]?
    /// The VXLAN network identifier, 1…16,777,215.
    public var vni: UInt32
    /// This machine's underlay address: encapsulated packets leave from it (nil: the kernel
    /// chooses by its route to `remote`).
    public var local: IPAddress?
    /// The other machine's underlay address: every frame goes there (a point-to-point tunnel,
    /// no multicast group and no flooding elsewhere).
    public var remote: IPAddress
    /// The UDP destination port (4789, IANA's, unless the lab says otherwise).
    public var port: UInt16

    public init(name: String, namespaceFD: Int32? = nil, index: Int32 = 0, mtu: UInt32? = nil, mac: [UInt8]? = nil,
                vni: UInt32, local: IPAddress?, remote: IPAddress, port: UInt16) {
        self.name = name; self.namespaceFD = namespaceFD; self.index = index; self.mtu = mtu; self.mac = mac
        self.vni = vni; self.local = local; self.remote = remote; self.port = port
    }

    /// The bytes VXLAN adds in front of every frame: outer IP header (20 or 40), UDP (8), VXLAN (8),
    /// inner Ethernet (14). An interface whose underlay has MTU M carries M minus this.
    public static func overhead(underlay family: IPAddress.Family) -> UInt32 { family == .ipv6 ? 70 : 50 }
}

/// What the kernel reports of a VXLAN interface (IFLA_INFO_DATA of kind "vxlan").
public struct VXLANInfo: Sendable, Equatable {
    public var vni: UInt32
    public var local: IPAddress?
    public var remote: IPAddress?
    public var port: UInt16?

    init(_ data: Attributes) {
        vni = data[IFLA_VXLAN_ID]?.u32 ?? 0
        local = (data[IFLA_VXLAN_LOCAL] ?? data[IFLA_VXLAN_LOCAL6]).flatMap { IPAddress(bytes: $0.payload) }
        remote = (data[IFLA_VXLAN_GROUP] ?? data[IFLA_VXLAN_GROUP6]).flatMap { IPAddress(bytes: $0.payload) }
        // Network order on the wire.
        port = data[IFLA_VXLAN_PORT]?.u16.map(UInt16.init(bigEndian:))
    }
}

extension LinkRequest {
    /// `ip link add NAME [netns NS] index INDEX mtu MTU address MAC type vxlan id VNI local LOCAL
    /// remote REMOTE dstport PORT`. iproute2 also sends learning on (the kernel's default) and
    /// nothing else, so the kernel picks TTL, source ports and ageing as it does for `ip`.
    public static func createVXLAN(_ end: VXLANEnd) -> NetlinkMessage {
        NetlinkMessage(
            type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL,
            header: IfInfoMessage(index: end.index),
            summary: "create vxlan \(end.name) (id \(end.vni), \(end.local.map { "\($0) " } ?? "")→ \(end.remote):\(end.port))"
        ) { a in
            if let fd = end.namespaceFD { a.put(IFLA_NET_NS_FD, u32: UInt32(bitPattern: fd)) }
            if let mtu = end.mtu { a.put(IFLA_MTU, u32: mtu) }
            if let mac = end.mac { a.put(IFLA_ADDRESS, bytes: mac) }
            a.put(IFLA_IFNAME, string: end.name)
            a.nest(IFLA_LINKINFO) { info in
                info.put(IFLA_INFO_KIND, bytes: Array("vxlan".utf8))
                info.nest(IFLA_INFO_DATA) { data in
                    data.put(IFLA_VXLAN_ID, u32: end.vni)
                    let v6 = end.remote.family == .ipv6
                    if let local = end.local { data.put(v6 ? IFLA_VXLAN_LOCAL6 : IFLA_VXLAN_LOCAL, bytes: local.bytes) }
                    data.put(v6 ? IFLA_VXLAN_GROUP6 : IFLA_VXLAN_GROUP, bytes: end.remote.bytes)
                    data.put(IFLA_VXLAN_LEARNING, u8: 1)
                    data.put(IFLA_VXLAN_PORT, u16: end.port.bigEndian)
                }
            }
        }
    }
}
