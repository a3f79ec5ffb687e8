import CShims
import NetAddress

/// The ifi_flags bits this project reads (linux/if.h; glibc's net/if.h lacks IFF_LOWER_UP).
public enum InterfaceFlags {
    public static let up: UInt32 = 1 << 0
    public static let loopback: UInt32 = 1 << 3
    public static let lowerUp: UInt32 = 1 << 16
}

/// The first four counters of struct rtnl_link_stats64 (IFLA_STATS64), as `ip -s link` shows them.
public struct LinkCounters: Sendable, Equatable, Codable {
    public var receivedPackets: UInt64
    public var sentPackets: UInt64
    public var receivedBytes: UInt64
    public var sentBytes: UInt64

    public init(receivedPackets: UInt64, sentPackets: UInt64, receivedBytes: UInt64, sentBytes: UInt64) {
        self.receivedPackets = receivedPackets; self.sentPackets = sentPackets
        self.receivedBytes = receivedBytes; self.sentBytes = sentBytes
    }

    init?(_ attribute: Attribute) {
        var r = ByteReader(attribute.payload)
        guard let rxPackets = try? r.read(UInt64.self), let txPackets = try? r.read(UInt64.self),
              let rxBytes = try? r.read(UInt64.self), let txBytes = try? r.read(UInt64.self) else { return nil }
        self.init(receivedPackets: rxPackets, sentPackets: txPackets, receivedBytes: rxBytes, sentBytes: txBytes)
    }
}

/// The kinds of interface nslab makes or meets, from IFLA_INFO_KIND (the kernel's own name,
/// a string on the wire): decided on once, here, when a link is read.
public enum InterfaceKind: Sendable, Equatable {
    case veth, vxlan, bridge, vlan
    /// Any other kind, by the kernel's name ("dummy", "macvlan", …).
    case other(String)

    public init(_ name: String) {
        switch name {
        case "veth": self = .veth
        case "vxlan": self = .vxlan
        case "bridge": self = .bridge
        case "vlan": self = .vlan
        default: self = .other(name)
        }
    }
}

/// A network interface as the kernel reports it (RTM_NEWLINK).
public struct LinkInfo: Sendable, Equatable {
    public var index: Int32
    public var name: String
    public var flags: UInt32
    public var mtu: UInt32?
    public var mac: [UInt8]?
    public var alias: String?
    /// IFLA_INFO_KIND as the kernel names it (nil: none, as for lo); `interfaceKind` to decide on.
    public var kind: String?
    public var interfaceKind: InterfaceKind? { kind.map(InterfaceKind.init) }
    /// IFLA_LINK: for a veth, the peer's index in the peer's namespace.
    public var peerIndex: Int32?
    /// IFLA_LINK_NETNSID: the peer namespace's id as this namespace knows it.
    public var peerNamespaceID: Int32?
    public var operationalState: UInt8?
    public var master: Int32?
    /// A "vlan" link's 802.1Q id (its parent is `peerIndex`, IFLA_LINK, in the same namespace).
    public var vlanID: UInt16?
    /// A "bridge" link's IFLA_BR_STP_STATE (0 off) and IFLA_BR_VLAN_FILTERING.
    public var stpState: UInt32?
    public var vlanFiltering: Bool?
    /// A "vxlan" link's identifier and underlay ends.
    public var vxlan: VXLANInfo?
    /// Packets and bytes in and out, when the message carries IFLA_STATS64 (dumps and events do).
    public var counters: LinkCounters?
    /// The hop limit IPv6 packets leave by this interface with (net.ipv6.conf.NAME.hop_limit),
    /// from the interface's IPv6 settings every dump carries; nil: no IPv6 on it.
    public var ipv6HopLimit: Int32?

    public var isUp: Bool { flags & InterfaceFlags.up != 0 }
    public var hasCarrier: Bool { flags & InterfaceFlags.lowerUp != 0 }
    public var isLoopback: Bool { flags & InterfaceFlags.loopback != 0 }
    /// One end of a veth pair (IFLA_INFO_KIND "veth").
    public var isVeth: Bool { interfaceKind == .veth }
    /// A Linux bridge (IFLA_INFO_KIND "bridge").
    public var isBridge: Bool { interfaceKind == .bridge }

    public var operationalStateName: String {
        switch operationalState.map(Int.init) ?? -1 {
        case IF_OPER_UP: return "UP"
        case IF_OPER_DOWN: return "DOWN"
        case IF_OPER_LOWERLAYERDOWN: return "LOWERLAYERDOWN"
        case IF_OPER_DORMANT: return "DORMANT"
        case IF_OPER_NOTPRESENT: return "NOTPRESENT"
        case IF_OPER_TESTING: return "TESTING"
        default: return "UNKNOWN"
        }
    }

    public init(_ message: ReceivedMessage) throws {
        let (header, attributes) = try message.decode(IfInfoMessage.self)
        index = header.index
        flags = header.flags
        name = attributes[IFLA_IFNAME]?.string ?? ""
        mtu = attributes[IFLA_MTU]?.u32
        mac = attributes[IFLA_ADDRESS].map { Array($0.payload) }
        alias = attributes[IFLA_IFALIAS]?.string
        peerIndex = attributes[IFLA_LINK]?.i32
        peerNamespaceID = attributes[IFLA_LINK_NETNSID]?.i32
        operationalState = attributes[IFLA_OPERSTATE]?.u8
        master = attributes[IFLA_MASTER]?.i32
        counters = attributes[IFLA_STATS64].flatMap(LinkCounters.init)
        if let ipv6 = try attributes[IFLA_AF_SPEC]?.nested()[AF_INET6]?.nested(),
           let settings = ipv6[IFLA_INET6_CONF]?.payload {
            // An array of s32 in DEVCONF_* order (linux/ipv6.h): forwarding, then hop limit.
            let hopLimit = 1
            if settings.count >= (hopLimit + 1) * 4 {
                ipv6HopLimit = settings.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: hopLimit * 4, as: Int32.self) }
            }
        }
        if let info = try attributes[IFLA_LINKINFO]?.nested() {
            kind = info[IFLA_INFO_KIND]?.string
            let data = try info[IFLA_INFO_DATA]?.nested()
            switch kind.map(InterfaceKind.init) {
            case .vlan?:
                vlanID = data?[IFLA_VLAN_ID]?.u16
            case .bridge?:
                stpState = data?[IFLA_BR_STP_STATE]?.u32
                vlanFiltering = data?[IFLA_BR_VLAN_FILTERING]?.u8.map { $0 != 0 }
            case .vxlan?:
                vxlan = data.map(VXLANInfo.init)
            default:
                break
            }
        }
    }
}

/// One end of a veth pair as it is created: its name, the namespace it is created in (an open
/// namespace fd; nil for the sending socket's own), and optionally the index it gets there.
public struct VethEnd: Sendable {
    public var name: String
    public var namespaceFD: Int32?
    public var index: Int32
    public var mtu: UInt32?
    public var mac: [UInt8]?
    /// Transmit and receive queues (`numtxqueues N numrxqueues N`); nil: the kernel's default,
    /// one of each per CPU.
    public var queues: UInt32?

    public init(name: String, namespaceFD: Int32? = nil, index: Int32 = 0, mtu: UInt32? = nil, mac: [UInt8]? = nil,
                queues: UInt32? = nil) {
        self.name = name; self.namespaceFD = namespaceFD; self.index = index; self.mtu = mtu; self.mac = mac
        self.queues = queues
    }
}

/// Requests about links, as `ip link` sends them.
public enum LinkRequest {
    /// `ip link add NAME type veth peer name PEER`, with both ends created directly in their
    /// namespaces (IFLA_NET_NS_FD at the top and inside VETH_INFO_PEER), so neither end ever
    /// appears in the namespace of the socket that sends it and nothing has to be moved later.
    /// Only the first end may be created up; the kernel refuses to create the peer up.
    public static func createVeth(_ end: VethEnd, peer: VethEnd, up: Bool = false) -> NetlinkMessage {
        let upFlag = up ? InterfaceFlags.up : 0
        return NetlinkMessage(
            type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL,
            header: IfInfoMessage(index: end.index, flags: upFlag, change: upFlag),
            summary: "create veth pair \(end.name)/\(peer.name)"
        ) { a in
            put(end, into: &a)
            a.nest(IFLA_LINKINFO) { info in
                // iproute2 sends the kind without its NUL; the kernel accepts both.
                info.put(IFLA_INFO_KIND, bytes: Array("veth".utf8))
                info.nest(IFLA_INFO_DATA) { data in
                    data.nest(VETH_INFO_PEER) { p in
                        p.append(header: IfInfoMessage(index: peer.index))
                        put(peer, into: &p)
                    }
                }
            }
        }
    }

    /// In iproute2's order (namespace first), so requests compare byte for byte with `ip link add`.
    private static func put(_ end: VethEnd, into a: inout AttributeWriter) {
        if let fd = end.namespaceFD { a.put(IFLA_NET_NS_FD, u32: UInt32(bitPattern: fd)) }
        if let queues = end.queues {
            a.put(IFLA_NUM_TX_QUEUES, u32: queues)
            a.put(IFLA_NUM_RX_QUEUES, u32: queues)
        }
        a.put(IFLA_IFNAME, string: end.name)
        if let mtu = end.mtu { a.put(IFLA_MTU, u32: mtu) }
        if let mac = end.mac { a.put(IFLA_ADDRESS, bytes: mac) }
    }

    /// `ip link set dev INDEX [up|down] [mtu N] [address MAC] [alias TEXT]`: only what is given changes.
    public static func set(index: Int32, name: String, up: Bool? = nil, mtu: UInt32? = nil,
                           mac: [UInt8]? = nil, alias: String? = nil, master: Int32? = nil) -> NetlinkMessage {
        let upFlag = InterfaceFlags.up
        var words: [String] = []
        if let up { words.append(up ? "up" : "down") }
        if let mtu { words.append("mtu \(mtu)") }
        if alias != nil { words.append("alias") }
        if mac != nil { words.append("address") }
        if let master { words.append("master \(master)") }
        return NetlinkMessage(
            type: RTM_NEWLINK, flags: 0,
            header: IfInfoMessage(index: index, flags: up == true ? upFlag : 0, change: up == nil ? 0 : upFlag),
            summary: "set \(name) \(words.joined(separator: " "))"
        ) { a in
            if let mtu { a.put(IFLA_MTU, u32: mtu) }
            if let mac { a.put(IFLA_ADDRESS, bytes: mac) }
            // Without a NUL, as iproute2: the kernel stores the bytes as given, NUL included.
            if let alias { a.put(IFLA_IFALIAS, bytes: Array(alias.utf8)) }
            if let master { a.put(IFLA_MASTER, u32: UInt32(bitPattern: master)) }
        }
    }

    /// `ip link add name NAME index INDEX up type bridge stp_state 0|1 [vlan_filtering 1]`.
    /// The spanning tree state is always said, off by default (the kernel's default too) so a
    /// lab never waits 30 s for STP to let a port forward; VLAN filtering only when on, so a
    /// plain bridge is the same request on kernels built without it.
    public static func createBridge(name: String, index: Int32, stp: Bool = false, vlanFiltering: Bool = false) -> NetlinkMessage {
        NetlinkMessage(
            type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL,
            header: IfInfoMessage(index: index, flags: InterfaceFlags.up, change: InterfaceFlags.up),
            summary: "add bridge \(name) (stp \(stp ? "on" : "off")\(vlanFiltering ? ", vlan filtering on" : ""))"
        ) { a in
            a.put(IFLA_IFNAME, string: name)
            a.nest(IFLA_LINKINFO) { info in
                info.put(IFLA_INFO_KIND, bytes: Array("bridge".utf8))
                info.nest(IFLA_INFO_DATA) { data in
                    data.put(IFLA_BR_STP_STATE, u32: stp ? 1 : 0)
                    if vlanFiltering { data.put(IFLA_BR_VLAN_FILTERING, u8: 1) }
                }
            }
        }
    }

    /// `ip link add link PARENT name NAME index INDEX up type vlan id VLAN`: an 802.1Q
    /// sub-interface, sending and receiving VLAN's frames tagged on its parent (same namespace).
    public static func createVLAN(name: String, index: Int32, parent: Int32, vlan: UInt16) -> NetlinkMessage {
        NetlinkMessage(
            type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL,
            header: IfInfoMessage(index: index, flags: InterfaceFlags.up, change: InterfaceFlags.up),
            summary: "add vlan \(name) (802.1Q id \(vlan))"
        ) { a in
            a.put(IFLA_LINK, u32: UInt32(bitPattern: parent))
            a.put(IFLA_IFNAME, string: name)
            a.nest(IFLA_LINKINFO) { info in
                info.put(IFLA_INFO_KIND, bytes: Array("vlan".utf8))
                info.nest(IFLA_INFO_DATA) { data in data.put(IFLA_VLAN_ID, u16: vlan) }
            }
        }
    }

    /// `ip link del dev INDEX`.
    public static func delete(index: Int32, name: String) -> NetlinkMessage {
        NetlinkMessage(type: RTM_DELLINK, flags: 0, header: IfInfoMessage(index: index),
                       summary: "delete link \(name)")
    }

    /// `ip link show`: every link of the socket's namespace.
    public static func dump() -> NetlinkMessage {
        NetlinkMessage(type: RTM_GETLINK, flags: 0, header: IfInfoMessage(), summary: "list links") { a in
            // Without this the kernel adds per-VF statistics nobody here reads.
            a.put(IFLA_EXT_MASK, u32: UInt32(RTEXT_FILTER_VF))
        }
    }
}

extension NetlinkSocket {
    public func links() throws -> [LinkInfo] {
        try dump(LinkRequest.dump()).filter { $0.type == UInt16(RTM_NEWLINK) }.map(LinkInfo.init)
    }
}
